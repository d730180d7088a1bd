/*
 * The libsrtp 3 API that mediasoup 3.19 uses, on top of Debian's libsrtp 2.
 *
 * libsrtp 3 protects from an input buffer into an output buffer with size_t lengths and
 * takes an MKI index; libsrtp 2 works in place with int lengths. mediasoup's output buffers
 * leave room for SRTP_MAX_TRAILER_LEN, which libsrtp 2 needs for in-place protection.
 */
#ifndef PARLEY_SRTP3_ON_SRTP2_H
#define PARLEY_SRTP3_ON_SRTP2_H

#include <limits.h>
#include <string.h>
#include <srtp2/srtp.h>

/* Error codes libsrtp 3 added; values past the last libsrtp 2 code. */
#define srtp_err_status_buffer_small ((srtp_err_status_t)(srtp_err_status_pkt_idx_adv + 1))
#define srtp_err_status_cryptex_err ((srtp_err_status_t)(srtp_err_status_pkt_idx_adv + 2))

typedef srtp_err_status_t (*parley_srtp2_in_place_fn)(srtp_t, void *, int *);

static inline srtp_err_status_t parley_srtp3_protect_with(
    parley_srtp2_in_place_fn protect, srtp_t ctx, const uint8_t *in, size_t in_len,
    uint8_t *out, size_t *out_len)
{
  if (in_len > (size_t)INT_MAX - SRTP_MAX_TRAILER_LEN || *out_len < in_len + SRTP_MAX_TRAILER_LEN)
    return srtp_err_status_buffer_small;
  if (out != in)
    memmove(out, in, in_len);
  int len = (int)in_len;
  srtp_err_status_t status = protect(ctx, out, &len);
  if (status == srtp_err_status_ok)
    *out_len = (size_t)len;
  return status;
}

static inline srtp_err_status_t parley_srtp3_unprotect_with(
    parley_srtp2_in_place_fn unprotect, srtp_t ctx, const uint8_t *in, size_t in_len,
    uint8_t *out, size_t *out_len)
{
  if (in_len > (size_t)INT_MAX || *out_len < in_len)
    return srtp_err_status_buffer_small;
  if (out != in)
    memmove(out, in, in_len);
  int len = (int)in_len;
  srtp_err_status_t status = unprotect(ctx, out, &len);
  if (status == srtp_err_status_ok)
    *out_len = (size_t)len;
  return status;
}

static inline srtp_err_status_t parley_srtp3_protect(srtp_t ctx, const uint8_t *rtp,
    size_t rtp_len, uint8_t *srtp, size_t *srtp_len, size_t mki_index)
{
  (void)mki_index; /* mediasoup never uses MKI */
  return parley_srtp3_protect_with(srtp_protect, ctx, rtp, rtp_len, srtp, srtp_len);
}

static inline srtp_err_status_t parley_srtp3_protect_rtcp(srtp_t ctx, const uint8_t *rtcp,
    size_t rtcp_len, uint8_t *srtcp, size_t *srtcp_len, size_t mki_index)
{
  (void)mki_index;
  return parley_srtp3_protect_with(srtp_protect_rtcp, ctx, rtcp, rtcp_len, srtcp, srtcp_len);
}

static inline srtp_err_status_t parley_srtp3_unprotect(srtp_t ctx, const uint8_t *srtp,
    size_t srtp_len, uint8_t *rtp, size_t *rtp_len)
{
  return parley_srtp3_unprotect_with(srtp_unprotect, ctx, srtp, srtp_len, rtp, rtp_len);
}

static inline srtp_err_status_t parley_srtp3_unprotect_rtcp(srtp_t ctx, const uint8_t *srtcp,
    size_t srtcp_len, uint8_t *rtcp, size_t *rtcp_len)
{
  return parley_srtp3_unprotect_with(srtp_unprotect_rtcp, ctx, srtcp, srtcp_len, rtcp, rtcp_len);
}

#define srtp_protect parley_srtp3_protect
#define srtp_protect_rtcp parley_srtp3_protect_rtcp
#define srtp_unprotect parley_srtp3_unprotect
#define srtp_unprotect_rtcp parley_srtp3_unprotect_rtcp
#define srtp_stream_remove srtp_remove_stream

#endif
