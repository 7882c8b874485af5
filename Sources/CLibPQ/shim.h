// libpq, the PostgreSQL client library (Debian: libpq-dev). The only PostgreSQL client in this project.
#include <libpq-fe.h>
