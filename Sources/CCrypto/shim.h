// OpenSSL's libcrypto (Debian's libssl-dev): the EVP message-digest API, for SHA-256.
#include <openssl/evp.h>
