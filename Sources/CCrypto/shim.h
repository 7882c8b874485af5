// OpenSSL's libcrypto (apt: libssl-dev): digests and the random generator. Only libcrypto is
// linked, not libssl; libpq loads the same library for TLS.
#include <openssl/evp.h>
#include <openssl/rand.h>
