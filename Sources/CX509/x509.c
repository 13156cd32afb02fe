#include "CX509.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

static void reason(char *error, size_t size, const char *fallback) {
    unsigned long code = ERR_peek_last_error();
    if (code != 0) {
        const char *text = ERR_reason_error_string(code);
        snprintf(error, size, "%s (%s)", fallback, text ? text : "unknown OpenSSL error");
    } else {
        snprintf(error, size, "%s", fallback);
    }
    ERR_clear_error();
}

int cx509_certificate_count(const char *path, char *error, size_t error_size) {
    ERR_clear_error();
    BIO *bio = BIO_new_file(path, "r");
    if (!bio) { reason(error, error_size, "cannot open the file"); return 0; }
    int count = 0;
    X509 *cert;
    while ((cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        count++;
        X509_free(cert);
    }
    BIO_free(bio);
    if (count == 0) {
        reason(error, error_size, "no PEM certificate in the file");
        return 0;
    }
    ERR_clear_error();  // the read past the last certificate leaves "no start line"
    return count;
}

static EVP_PKEY *read_key(const char *path, char *error, size_t error_size) {
    ERR_clear_error();
    BIO *bio = BIO_new_file(path, "r");
    if (!bio) { reason(error, error_size, "cannot open the file"); return NULL; }
    // An empty passphrase callback: an encrypted key is reported, never prompted for on the terminal.
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
    BIO_free(bio);
    if (!key) reason(error, error_size, "no readable PEM private key in the file (an encrypted key is not supported)");
    return key;
}

int cx509_key_readable(const char *path, char *error, size_t error_size) {
    EVP_PKEY *key = read_key(path, error, error_size);
    if (!key) return 0;
    EVP_PKEY_free(key);
    return 1;
}

int cx509_pair_matches(const char *cert_path, const char *key_path, char *error, size_t error_size) {
    ERR_clear_error();
    BIO *bio = BIO_new_file(cert_path, "r");
    if (!bio) { reason(error, error_size, "cannot open the certificate file"); return 0; }
    X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (!cert) { reason(error, error_size, "no PEM certificate in the certificate file"); return 0; }
    EVP_PKEY *key = read_key(key_path, error, error_size);
    if (!key) { X509_free(cert); return 0; }
    int ok = X509_check_private_key(cert, key) == 1;
    if (!ok) snprintf(error, error_size, "the key does not match the certificate (its first one, when a chain)");
    ERR_clear_error();
    EVP_PKEY_free(key);
    X509_free(cert);
    return ok;
}

/// Appends `text` to out at *used, quoting characters Envoy escapes (`"` and `\`) when `quote` is set.
static void append(char *out, size_t size, size_t *used, const char *text, int quote) {
    for (const char *p = text; *p; p++) {
        int escape = quote && (*p == '"' || *p == '\\');
        if (*used + 1 + (size_t)escape >= size) return;
        if (escape) out[(*used)++] = '\\';
        out[(*used)++] = *p;
    }
    out[*used] = 0;
}

int cx509_xfcc(const uint8_t *der, size_t der_size, char *out, size_t out_size) {
    if (out_size == 0) return -1;
    out[0] = 0;
    const unsigned char *cursor = der;
    X509 *cert = d2i_X509(NULL, &cursor, (long)der_size);
    if (!cert) { ERR_clear_error(); return -1; }
    size_t used = 0;

    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_size = 0;
    EVP_Digest(der, der_size, digest, &digest_size, EVP_sha256(), NULL);
    append(out, out_size, &used, "Hash=", 0);
    char hex[3];
    for (unsigned int i = 0; i < digest_size; i++) {
        snprintf(hex, sizeof hex, "%02x", digest[i]);
        append(out, out_size, &used, hex, 0);
    }

    BIO *bio = BIO_new(BIO_s_mem());
    if (bio && X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
        char *subject = NULL;
        long length = BIO_get_mem_data(bio, &subject);
        char buffer[1024];
        size_t n = length < (long)sizeof buffer - 1 ? (size_t)length : sizeof buffer - 1;
        memcpy(buffer, subject, n);
        buffer[n] = 0;
        append(out, out_size, &used, ";Subject=\"", 0);
        append(out, out_size, &used, buffer, 1);
        append(out, out_size, &used, "\"", 0);
    }
    if (bio) BIO_free(bio);

    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    if (names) {
        // Envoy lists URI entries, then DNS entries.
        for (int pass = 0; pass < 2; pass++) {
            for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
                GENERAL_NAME *name = sk_GENERAL_NAME_value(names, i);
                int wanted = pass == 0 ? GEN_URI : GEN_DNS;
                if (name->type != wanted) continue;
                ASN1_IA5STRING *value = pass == 0 ? name->d.uniformResourceIdentifier : name->d.dNSName;
                char buffer[512];
                int n = ASN1_STRING_length(value);
                if (n < 0 || n >= (int)sizeof buffer) continue;
                memcpy(buffer, ASN1_STRING_get0_data(value), (size_t)n);
                buffer[n] = 0;
                if (memchr(buffer, 0, (size_t)n) != NULL) continue;  // an embedded NUL is never passed on
                append(out, out_size, &used, pass == 0 ? ";URI=" : ";DNS=", 0);
                append(out, out_size, &used, buffer, 0);
            }
        }
        GENERAL_NAMES_free(names);
    }
    X509_free(cert);
    ERR_clear_error();
    return (int)used;
}
