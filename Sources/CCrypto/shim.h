// OpenSSL's libcrypto (apt: libssl-dev): digests, MACs, the random generator and constant-time
// comparison. Only libcrypto is linked, not libssl; libpq loads the same library for TLS.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
