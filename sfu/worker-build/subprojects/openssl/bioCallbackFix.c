/*
 * mediasoup's DtlsTransport installs a BIO callback on its output memory BIO that returns
 * the operation's real result only when `operationType == BIO_CB_RETURN`. OpenSSL always
 * passes the operation ORed with BIO_CB_RETURN after an operation, so every BIO_ctrl() on
 * that BIO returns 1. With an OpenSSL built with kernel TLS (Debian's libssl3),
 * BIO_get_ktls_send() then reads "true", OpenSSL never allocates its write buffer, and the
 * worker dereferences NULL writing the DTLS ServerHello (SIGSEGV in SSL_read).
 *
 * The linker routes mediasoup's BIO_set_callback_ex() calls here (-Wl,--wrap); we install a
 * trampoline that keeps mediasoup's callback for its side effects and returns what OpenSSL
 * expects: 1 before an operation (continue), the operation's own result after it.
 */
#include <openssl/bio.h>

void __real_BIO_set_callback_ex(BIO *bio, BIO_callback_fn_ex callback);

/* mediasoup installs the same function on every transport's BIO. */
static BIO_callback_fn_ex mediasoup_callback;

static long corrected_callback(BIO *bio, int operation, const char *argp, size_t len,
                               int argi, long argl, int ret, size_t *processed)
{
  long result = mediasoup_callback(bio, operation, argp, len, argi, argl, ret, processed);
  return (operation & BIO_CB_RETURN) ? (long)ret : result;
}

void __wrap_BIO_set_callback_ex(BIO *bio, BIO_callback_fn_ex callback)
{
  if (callback == NULL) {
    __real_BIO_set_callback_ex(bio, NULL);
    return;
  }
  mediasoup_callback = callback;
  __real_BIO_set_callback_ex(bio, corrected_callback);
}
