// gzip for OTLP export bodies (Content-Encoding: gzip), with the zlib libcurl already links.
#include <zlib.h>
#include "CCurl.h"

long ccurl_gzip(const unsigned char *input, size_t length, unsigned char *output, size_t capacity) {
    z_stream stream = {0};
    // 15 window bits + 16: a gzip header and trailer rather than zlib's.
    // Level 1: span batches compress about as well at a fraction of the CPU of the default level.
    if (deflateInit2(&stream, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return -1;
    stream.next_in = (unsigned char *)input;
    stream.avail_in = (uInt)length;
    stream.next_out = output;
    stream.avail_out = (uInt)capacity;
    int result = deflate(&stream, Z_FINISH);
    long written = (long)stream.total_out;
    deflateEnd(&stream);
    return result == Z_STREAM_END ? written : -1;
}

size_t ccurl_gzip_bound(size_t length) {
    return (size_t)compressBound((uLong)length) + 32;  // + the gzip header and trailer
}
