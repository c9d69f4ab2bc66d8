/* proto/mpskip.c - msgpack values walked without decoding them (mpskip.h). */
#include "proto/mpskip.h"

#include <errno.h>

int
mp_skip(const uint8_t **pp, const uint8_t *end, uint64_t count)
{
    const uint8_t *p = *pp;
    int r = 0;

    while (count > 0) {
        size_t left = (size_t) (end - p), hdr, body;
        uint64_t n;
        uint8_t b;

        if (count > left) {
            r = -EMSGSIZE; /* each value needs a byte */
            goto out;
        }
        b = *p;
        count--;
        if (b < 0x80 || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) { /* fixint, nil, bool */
            p++;
            continue;
        }
        if (b <= 0x8f) {
            count += 2 * (uint64_t) (b & 0x0f);
            p++;
            continue;
        }
        if (b <= 0x9f) {
            count += b & 0x0f;
            p++;
            continue;
        }
        if (b <= 0xbf) {
            hdr = 1;
            body = b & 0x1f;
        } else {
            switch (b) {
            case 0xc1:
                r = -EINVAL; /* never used */
                goto out;
            case 0xc4:
            case 0xc5:
            case 0xc6: /* bin 8/16/32 */
                hdr = 1 + ((size_t) 1 << (b - 0xc4));
                if (left < hdr) {
                    r = -EMSGSIZE;
                    goto out;
                }
                body = (size_t) mp_get_be(p + 1, hdr - 1);
                break;
            case 0xc7:
            case 0xc8:
            case 0xc9: /* ext 8/16/32: length, type, data */
                hdr = 2 + ((size_t) 1 << (b - 0xc7));
                if (left < hdr) {
                    r = -EMSGSIZE;
                    goto out;
                }
                body = (size_t) mp_get_be(p + 1, hdr - 2);
                break;
            case 0xca:
            case 0xcb: /* float 32/64 */
                hdr = 1;
                body = b == 0xca ? 4 : 8;
                break;
            case 0xcc:
            case 0xcd:
            case 0xce:
            case 0xcf: /* uint */
                hdr = 1;
                body = (size_t) 1 << (b - 0xcc);
                break;
            case 0xd0:
            case 0xd1:
            case 0xd2:
            case 0xd3: /* int */
                hdr = 1;
                body = (size_t) 1 << (b - 0xd0);
                break;
            case 0xd4:
            case 0xd5:
            case 0xd6:
            case 0xd7:
            case 0xd8: /* fixext: type, data */
                hdr = 2;
                body = (size_t) 1 << (b - 0xd4);
                break;
            case 0xd9:
            case 0xda:
            case 0xdb: /* str 8/16/32 */
                hdr = 1 + ((size_t) 1 << (b - 0xd9));
                if (left < hdr) {
                    r = -EMSGSIZE;
                    goto out;
                }
                body = (size_t) mp_get_be(p + 1, hdr - 1);
                break;
            default: /* 0xdc..0xdf: array 16/32, map 16/32 */
                hdr = (b & 1) ? 5 : 3;
                if (left < hdr) {
                    r = -EMSGSIZE;
                    goto out;
                }
                n = mp_get_be(p + 1, hdr - 1);
                count += b >= 0xde ? 2 * n : n;
                p += hdr;
                continue;
            }
        }
        if (left < hdr || left - hdr < body) {
            r = -EMSGSIZE;
            goto out;
        }
        p += hdr + body;
    }
out:
    *pp = p;
    return r;
}

