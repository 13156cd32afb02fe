// Certificate and key checks and client-certificate descriptions through the system's OpenSSL (the library libcurl
// uses for upstream TLS, so `outrigger check` judges the files the way the daemon's TLS will read them).
#ifndef OUTRIGGER_CX509_H
#define OUTRIGGER_CX509_H

#include <stddef.h>
#include <stdint.h>

/// Reads every PEM certificate in `path`. Returns how many (>= 1), or 0 with a reason in `error`.
int cx509_certificate_count(const char *path, char *error, size_t error_size);
/// Reads a PEM private key from `path`. 1, or 0 with a reason in `error`.
int cx509_key_readable(const char *path, char *error, size_t error_size);
/// Whether the key in `key_path` belongs to the first certificate of `cert_path`. 1, or 0 with a reason.
int cx509_pair_matches(const char *cert_path, const char *key_path, char *error, size_t error_size);
/// Describes a DER certificate as Envoy's x-forwarded-client-cert element: Hash, Subject (RFC 2253), URI and DNS
/// subject alternative names. Returns the length written (NUL-terminated, truncated to fit), or -1 if unparsable.
int cx509_xfcc(const uint8_t *der, size_t der_size, char *out, size_t out_size);

#endif
