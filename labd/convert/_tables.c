/* labd.convert._tables: colour transforms of 8-bit RGB as tables, applied in place.
 *
 * Why labd has C of its own (labd/convert/tables.py says more): littlecms spends about
 * 20 ns a pixel on an 8-bit RGB transform on the lab's print server and rebuilds it for
 * every photo inside libvips (30 ms for a printer's profile); Pillow's Color3DLUT costs as
 * much.  Two kinds of table, built once per process from littlecms' exact transform:
 *
 * A 3D table (apply_table), for any RGB transform: tetrahedral interpolation between the
 * points of an evenly spaced grid, as littlecms does for 8-bit RGB (33 points), in about
 * 4 ns a pixel.  points^3 entries, red slowest, blue fastest, each one 64-bit word holding
 * the three output channels in fields FIELD bits apart, each (code value + offset) in
 * fixed point (0..8160): a table may hold values below 0 and above 255, clipped after
 * interpolating.  The four corners of a pixel's tetrahedron are weighted (weights summing
 * to 256) and added in one 64-bit multiply-add per corner for the three channels at once:
 * no field overflows into the next, as 8160 * 256 < 2^21.  In portable C; and, where the
 * processor has AVX-512 with its byte permutes (VBMI: AMD's Zen 4 EPYCs, Intel's since Ice
 * Lake), sixteen pixels at a time (apply_3d_avx512): the same arithmetic, so the same bytes
 * (tested on every 8-bit colour), in 3.3-3.5 ns a pixel against 4.0 on the development
 * machine's EPYC (bench/convert.py --parts 4).  An AVX2 version with gathers was no faster
 * than the portable C.
 *
 * Curves and a matrix (apply_matrix), for two matrix profiles (an Adobe RGB or Display P3
 * photo for an sRGB print): each channel through its curve to linear light, the 3x3
 * matrix, clipped, and through the output profile's inverse curves (16385 entries a
 * channel), littlecms' own 8-bit method and arithmetic, to the bit, in about 3 ns a pixel.
 * A 3D table cannot follow these: where a colour leaves sRGB's gamut and is clipped, the
 * transform bends between two grid points.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#define FIELD 21
#define FIELD_MASK ((1u << FIELD) - 1)
#define MAX_POINTS 256
/* A table value times the weights' 256, plus rounding, stays below 2^21. */
#define MAX_VALUE 8160
#define MAX_FRACTION_BITS 5

static inline uint8_t
clamp(int v)
{
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Apply ``table`` (``points`` per axis) to ``count`` RGB pixels at ``px``, in place.  An
 * entry's field holds (code value + offset) << (shift - 8); the interpolated value is
 * rounded, less the offset, and clipped to 0..255 (``clip``; without, every value of the
 * table must be a code value).  Inlined into each caller: with shift, offset and clip
 * known when compiled, a pixel takes 4 ns on the lab's server, 5.5 with them as variables. */
static inline __attribute__((always_inline)) void
apply_3d(uint8_t *restrict px, size_t count, const uint64_t *restrict table, int points,
      int shift, int offset, int clip)
{
    /* Per channel value: the offset of its grid cell along that axis, and its position in
     * the cell (0..256; 256 only for 255, which lies on the last grid point). */
    uint32_t off[3][256];
    int32_t frac[256];
    const int32_t sr = points * points, sg = points, sb = 1, s3 = sr + sg + sb;
    for (int v = 0; v < 256; v++) {
        int pos = (v * (points - 1) * 257 + 128) >> 8; /* v * (points-1) / 255, in 1/256 */
        int idx = pos >> 8, f = pos & 255;
        if (idx == points - 1) {
            idx = points - 2;
            f = 256;
        }
        off[0][v] = (uint32_t)(idx * sr);
        off[1][v] = (uint32_t)(idx * sg);
        off[2][v] = (uint32_t)idx;
        frac[v] = f;
    }
    const uint64_t half = (uint64_t)1 << (shift - 1);
    const uint64_t rounding = half | half << FIELD | half << (2 * FIELD);
    for (size_t i = 0; i < count; i++, px += 3) {
        unsigned r = px[0], g = px[1], b = px[2];
        int fx = frac[r], fy = frac[g], fz = frac[b];
        const uint64_t *c0 = table + off[0][r] + off[1][g] + off[2][b];
        uint64_t c1, c2;
        int hi, mid, lo;
        /* The tetrahedron: walk from c0 to the far corner along the axes by falling
         * position; c1 and c2 are the corners passed on the way. */
        if (fx >= fy) {
            if (fy >= fz) {
                c1 = c0[sr]; c2 = c0[sr + sg]; hi = fx; mid = fy; lo = fz;
            } else if (fx >= fz) {
                c1 = c0[sr]; c2 = c0[sr + sb]; hi = fx; mid = fz; lo = fy;
            } else {
                c1 = c0[sb]; c2 = c0[sr + sb]; hi = fz; mid = fx; lo = fy;
            }
        } else {
            if (fx >= fz) {
                c1 = c0[sg]; c2 = c0[sr + sg]; hi = fy; mid = fx; lo = fz;
            } else if (fy >= fz) {
                c1 = c0[sg]; c2 = c0[sg + sb]; hi = fy; mid = fz; lo = fx;
            } else {
                c1 = c0[sb]; c2 = c0[sg + sb]; hi = fz; mid = fy; lo = fx;
            }
        }
        uint64_t v = c0[0] * (uint64_t)(256 - hi) + c1 * (uint64_t)(hi - mid)
                   + c2 * (uint64_t)(mid - lo) + c0[s3] * (uint64_t)lo + rounding;
        int out[3] = {
            (int)((v & FIELD_MASK) >> shift) - offset,
            (int)((v >> FIELD & FIELD_MASK) >> shift) - offset,
            (int)((v >> (2 * FIELD) & FIELD_MASK) >> shift) - offset,
        };
        for (int c = 0; c < 3; c++)
            px[c] = clip ? clamp(out[c]) : (uint8_t)out[c];
    }
}

/* A table of code values in 1/32 (what a printer's profile gives). */
static void
apply_codes(uint8_t *restrict px, size_t count, const uint64_t *restrict table, int points)
{
    apply_3d(px, count, table, points, MAX_FRACTION_BITS + 8, 0, 0);
}

/* Any other table. */
static void
apply_clipped(uint8_t *restrict px, size_t count, const uint64_t *restrict table, int points,
              int fraction_bits, int offset)
{
    apply_3d(px, count, table, points, fraction_bits + 8, offset, 1);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_AVX512 1
#include <immintrin.h>

/* Compiled for AVX-512 whatever the compiler's flags; called only where the processor has
 * it (avx512()). */
#define AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vbmi")))

/* Whether the processor (and the kernel, which must save the vector registers) has what
 * apply_3d_avx512 uses.  GCC's and clang's check reads both. */
static int
avx512(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")
        && __builtin_cpu_supports("avx512vbmi");
}

/* Eight pixels' weighted sums (apply_3d's v, one to a 64-bit lane) as eight 32-bit values,
 * red | green << 8 | blue << 16: each field shifted, less the offset, clipped, as apply_3d
 * does. */
AVX512 static inline __attribute__((always_inline)) __m256i
fields_avx512(__m512i v, int shift, int offset, int clip)
{
    const __m512i mask = _mm512_set1_epi64(FIELD_MASK);
    __m512i r = _mm512_srli_epi64(_mm512_and_si512(v, mask), (unsigned)shift);
    __m512i g = _mm512_srli_epi64(_mm512_and_si512(_mm512_srli_epi64(v, FIELD), mask), (unsigned)shift);
    __m512i b = _mm512_srli_epi64(_mm512_srli_epi64(v, 2 * FIELD), (unsigned)shift);
    if (clip) {
        const __m512i off = _mm512_set1_epi64(offset), zero = _mm512_setzero_si512();
        const __m512i top = _mm512_set1_epi64(255);
        r = _mm512_min_epi64(_mm512_max_epi64(_mm512_sub_epi64(r, off), zero), top);
        g = _mm512_min_epi64(_mm512_max_epi64(_mm512_sub_epi64(g, off), zero), top);
        b = _mm512_min_epi64(_mm512_max_epi64(_mm512_sub_epi64(b, off), zero), top);
    }
    __m512i rgb = _mm512_or_si512(r, _mm512_or_si512(_mm512_slli_epi64(g, 8), _mm512_slli_epi64(b, 16)));
    return _mm512_cvtepi64_epi32(rgb);
}

/* apply_3d, sixteen pixels (48 bytes) at a time, the rest by apply_3d.  Each pixel's cell,
 * fractions and tetrahedron as apply_3d finds them, in 32-bit lanes: the tetrahedron by
 * its largest fraction's axis (c1 = c0 + that axis) and its smallest's (c2 = the far
 * corner less that axis); where two fractions are equal either choice weights the corner
 * that differs by 0, so the sum is apply_3d's.  The four corners gathered and weighted in
 * 64-bit lanes, eight pixels to a register. */
AVX512 static inline __attribute__((always_inline)) void
apply_3d_avx512(uint8_t *restrict px, size_t count, const uint64_t *restrict table, int points,
                int shift, int offset, int clip)
{
    const int32_t sr = points * points, sg = points, s3 = sr + sg + 1;
    const uint64_t half = (uint64_t)1 << (shift - 1);
    const __m512i rounding = _mm512_set1_epi64((long long)(half | half << FIELD | half << (2 * FIELD)));
    /* Byte permutes: channel c of pixel p (byte 3p + c) to the low byte of 32-bit lane p;
     * and back, the low three bytes of each lane to 48 packed bytes. */
    uint8_t at[3][64], packed[64];
    for (int i = 0; i < 64; i++) {
        for (int c = 0; c < 3; c++)
            at[c][i] = (uint8_t)(3 * (i / 4) + c);
        packed[i] = (uint8_t)(i < 48 ? (i / 3) * 4 + i % 3 : 0);
    }
    const __m512i channel[3] = {_mm512_loadu_si512(at[0]), _mm512_loadu_si512(at[1]),
                                _mm512_loadu_si512(at[2])};
    const __m512i pack = _mm512_loadu_si512(packed);
    const __mmask64 low_bytes = 0x1111111111111111ull, bytes48 = (1ull << 48) - 1;
    const __m512i scale = _mm512_set1_epi32((points - 1) * 257), c128 = _mm512_set1_epi32(128);
    const __m512i c255 = _mm512_set1_epi32(255), c256 = _mm512_set1_epi32(256);
    const __m512i last = _mm512_set1_epi32(points - 1), one = _mm512_set1_epi32(1);
    const __m512i vsr = _mm512_set1_epi32(sr), vsg = _mm512_set1_epi32(sg), vs3 = _mm512_set1_epi32(s3);
    const long long *entries = (const long long *)table;
    size_t blocks = count / 16;
    for (size_t n = 0; n < blocks; n++, px += 48) {
        const __m512i in = _mm512_maskz_loadu_epi8(bytes48, px);
        __m512i cell[3], frac[3];
        for (int c = 0; c < 3; c++) {
            __m512i v = _mm512_maskz_permutexvar_epi8(low_bytes, channel[c], in);
            __m512i pos = _mm512_srli_epi32(_mm512_add_epi32(_mm512_mullo_epi32(v, scale), c128), 8);
            __mmask16 top = _mm512_cmpeq_epi32_mask(_mm512_srli_epi32(pos, 8), last);
            cell[c] = _mm512_mask_sub_epi32(_mm512_srli_epi32(pos, 8), top, last, one);
            frac[c] = _mm512_mask_mov_epi32(_mm512_and_si512(pos, c255), top, c256);
        }
        const __m512i fx = frac[0], fy = frac[1], fz = frac[2];
        const __m512i c0 = _mm512_add_epi32(
            _mm512_add_epi32(_mm512_mullo_epi32(cell[0], vsr), _mm512_mullo_epi32(cell[1], vsg)), cell[2]);
        const __m512i hi = _mm512_max_epi32(fx, _mm512_max_epi32(fy, fz));
        const __m512i lo = _mm512_min_epi32(fx, _mm512_min_epi32(fy, fz));
        const __m512i mid = _mm512_sub_epi32(_mm512_sub_epi32(_mm512_add_epi32(fx, _mm512_add_epi32(fy, fz)), hi), lo);
        const __mmask16 xy = _mm512_cmpge_epi32_mask(fx, fy), xz = _mm512_cmpge_epi32_mask(fx, fz);
        const __mmask16 yz = _mm512_cmpge_epi32_mask(fy, fz);
        /* The largest fraction's axis: red, else green, else blue; the smallest's: blue,
         * else green, else red (never the same axis unless all three are equal). */
        const __mmask16 x_hi = xy & xz, y_hi = (__mmask16)(~x_hi & yz);
        const __mmask16 z_lo = xz & yz, y_lo = (__mmask16)(~z_lo & xy);
        const __m512i step_hi = _mm512_mask_mov_epi32(_mm512_mask_mov_epi32(one, y_hi, vsg), x_hi, vsr);
        const __m512i step_lo = _mm512_mask_mov_epi32(_mm512_mask_mov_epi32(vsr, y_lo, vsg), z_lo, one);
        const __m512i far = _mm512_add_epi32(c0, vs3);
        const __m512i corner[4] = {c0, _mm512_add_epi32(c0, step_hi), _mm512_sub_epi32(far, step_lo), far};
        const __m512i weight[4] = {_mm512_sub_epi32(c256, hi), _mm512_sub_epi32(hi, mid),
                                   _mm512_sub_epi32(mid, lo), lo};
        __m256i rgb[2];
        for (int h = 0; h < 2; h++) {
            __m512i sum = rounding;
            for (int k = 0; k < 4; k++) {
                __m256i index = h ? _mm512_extracti64x4_epi64(corner[k], 1) : _mm512_castsi512_si256(corner[k]);
                __m256i w = h ? _mm512_extracti64x4_epi64(weight[k], 1) : _mm512_castsi512_si256(weight[k]);
                sum = _mm512_add_epi64(sum, _mm512_mullo_epi64(_mm512_i32gather_epi64(index, entries, 8),
                                                               _mm512_cvtepu32_epi64(w)));
            }
            rgb[h] = fields_avx512(sum, shift, offset, clip);
        }
        const __m512i out = _mm512_inserti64x4(_mm512_castsi256_si512(rgb[0]), rgb[1], 1);
        _mm512_mask_storeu_epi8(px, bytes48, _mm512_permutexvar_epi8(pack, out));
    }
    apply_3d(px, count - 16 * blocks, table, points, shift, offset, clip);
}

AVX512 static void
apply_codes_avx512(uint8_t *restrict px, size_t count, const uint64_t *restrict table, int points)
{
    apply_3d_avx512(px, count, table, points, MAX_FRACTION_BITS + 8, 0, 0);
}

AVX512 static void
apply_clipped_avx512(uint8_t *restrict px, size_t count, const uint64_t *restrict table,
                     int points, int fraction_bits, int offset)
{
    apply_3d_avx512(px, count, table, points, fraction_bits + 8, offset, 1);
}
#else
#define HAVE_AVX512 0
static int
avx512(void)
{
    return 0;
}
#endif

/* Whether apply_table may use apply_3d_avx512: set once, as the module is loaded. */
static int has_avx512;

/* The largest value in the table (above MAX_VALUE, a weighted sum of four would overflow
 * its field). */
static uint64_t
largest(const uint64_t *table, size_t entries)
{
    uint64_t most = 0;
    for (size_t i = 0; i < entries; i++) {
        uint64_t e = table[i], r = e & FIELD_MASK, g = e >> FIELD & FIELD_MASK, b = e >> (2 * FIELD);
        most = r > most ? r : most;
        most = g > most ? g : most;
        most = b > most ? b : most;
    }
    return most;
}

/* A call's result, its buffers released: None, or ValueError(error) with nothing changed. */
static PyObject *
result(const char *error)
{
    if (error == NULL)
        Py_RETURN_NONE;
    PyErr_SetString(PyExc_ValueError, error);
    return NULL;
}

PyDoc_STRVAR(apply_table_doc,
"apply_table(pixels, table, points, fraction_bits, offset, vector=True)\n--\n\n"
"Convert the 8-bit RGB ``pixels`` (a writable buffer, 3 bytes a pixel) in place through\n"
"``table`` (``points``**3 native 64-bit entries, as labd.convert.tables packs them: each\n"
"value (code value + offset) * 2**fraction_bits), with the processor's vector\n"
"instructions where it has them (see vector()) unless ``vector`` is false: the same bytes\n"
"either way.  Raises ValueError when the sizes do not fit; the pixels are then untouched.");

static PyObject *
py_apply_table(PyObject *module, PyObject *args)
{
    (void)module;
    Py_buffer pixels, table;
    int points, fraction_bits, offset, vector = 1;
    if (!PyArg_ParseTuple(args, "w*y*iii|p:apply_table", &pixels, &table, &points, &fraction_bits,
                          &offset, &vector))
        return NULL;
    const char *error = NULL;
    if (points < 2 || points > MAX_POINTS)
        error = "a table has 2 to 256 points per axis";
    else if (table.len != (Py_ssize_t)points * points * points * (Py_ssize_t)sizeof(uint64_t))
        error = "the table is not points**3 64-bit entries";
    else if (pixels.len % 3 != 0)
        error = "the pixels are not whole RGB triples";
    else if (fraction_bits < 0 || fraction_bits > MAX_FRACTION_BITS)
        error = "a table has 0 to 5 fraction bits";
    else if (offset < 0 || offset > (int)(FIELD_MASK >> 8))
        error = "the offset does not fit a table's values";
    else if ((uintptr_t)table.buf % sizeof(uint64_t) != 0)
        error = "the table is not aligned to 8 bytes";
    uint64_t most = error == NULL ? largest(table.buf, (size_t)table.len / sizeof(uint64_t)) : 0;
    if (error == NULL && most > MAX_VALUE)
        error = "a table value is above 8160";
    if (error == NULL) {
        size_t count = (size_t)pixels.len / 3;
        int codes = fraction_bits == MAX_FRACTION_BITS && offset == 0 && most <= 255u << MAX_FRACTION_BITS;
        Py_BEGIN_ALLOW_THREADS
#if HAVE_AVX512
        if (vector && has_avx512) {
            if (codes)
                apply_codes_avx512(pixels.buf, count, table.buf, points);
            else
                apply_clipped_avx512(pixels.buf, count, table.buf, points, fraction_bits, offset);
        } else
#endif
        if (codes)
            apply_codes(pixels.buf, count, table.buf, points);
        else
            apply_clipped(pixels.buf, count, table.buf, points, fraction_bits, offset);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&pixels);
    PyBuffer_Release(&table);
    return result(error);
}

/* 1.14 fixed point: linear light 0..1 as 0..ONE. */
#define ONE 16384
/* The most a product of the matrix kernel's table may be in size: three of them and the
 * rounding stay within 32 bits. */
#define MAX_PRODUCT (1 << 29)

/* Four 32-bit integers, in one vector register (SSE2 on x86-64, GCC's and clang's vector
 * extension: no instruction set is assumed). */
typedef int32_t v4i __attribute__((vector_size(16)));
/* The same, at any 4-byte boundary: the table is Python's array, aligned as malloc pleases. */
typedef int32_t v4u __attribute__((vector_size(16), aligned(4)));

/* Convert ``count`` RGB pixels at ``px`` in place, as littlecms' 8-bit matrix-shaper
 * transform does, bit for bit: each output's linear light is the sum of three products of
 * a matrix value and an input's linear light (both 1.14), rounded to 1.14
 * ((sum + ONE/2) >> 14), clipped to 0..ONE, and through ``out`` (3 x ONE + 1, or one curve
 * for all three: ``stride`` 0).  ``in`` holds the products, for each channel and value the
 * three outputs' (and a 0) in a vector: three lookups and two vector additions make the
 * matrix product, with no multiplication. */
static inline __attribute__((always_inline)) void
apply_matrix(uint8_t *restrict px, size_t count, const v4u *restrict in,
             const uint8_t *restrict out, size_t stride)
{
    const v4i half = {ONE / 2, ONE / 2, ONE / 2, ONE / 2}, one = {ONE, ONE, ONE, ONE};
    for (size_t i = 0; i < count; i++, px += 3) {
        v4i v = (in[px[0]] + in[256 + px[1]] + in[512 + px[2]] + half) >> 14;
        v &= v >= 0;               /* below 0: 0 (a comparison gives -1 where true) */
        v4i over = v > one;
        v = (v & ~over) | (one & over);
        px[0] = out[(size_t)v[0]];
        px[1] = out[stride + (size_t)v[1]];
        px[2] = out[2 * stride + (size_t)v[2]];
    }
}

/* One output curve for the three channels (sRGB's): 16 kB, held in the first-level cache. */
static void
apply_matrix_one_curve(uint8_t *restrict px, size_t count, const v4u *restrict in,
                       const uint8_t *restrict out)
{
    apply_matrix(px, count, in, out, 0);
}

static void
apply_matrix_three_curves(uint8_t *restrict px, size_t count, const v4u *restrict in,
                          const uint8_t *restrict out)
{
    apply_matrix(px, count, in, out, ONE + 1);
}

PyDoc_STRVAR(apply_matrix_doc,
"apply_matrix(pixels, terms, curves_out)\n--\n\n"
"Convert the 8-bit RGB ``pixels`` (a writable buffer) in place: ``terms`` (3 x 256 x 4\n"
"native 32-bit integers, as labd.convert.tables packs them) give each channel's value's\n"
"share of the outputs' linear light, ``curves_out`` (3 x 16385 bytes, or 16385 for all three) the\n"
"code values.  Raises\n"
"ValueError when the sizes or values do not fit; the pixels are then untouched.");

static PyObject *
py_apply_matrix(PyObject *module, PyObject *args)
{
    (void)module;
    Py_buffer pixels, in, out;
    if (!PyArg_ParseTuple(args, "w*y*y*:apply_matrix", &pixels, &in, &out))
        return NULL;
    const char *error = NULL;
    if (pixels.len % 3 != 0)
        error = "the pixels are not whole RGB triples";
    else if (in.len != 3 * 256 * (Py_ssize_t)sizeof(v4i) || (uintptr_t)in.buf % 4 != 0)
        error = "the terms are not 3 x 256 x 4 32-bit integers";
    else if (out.len != ONE + 1 && out.len != 3 * (ONE + 1))
        error = "the output curves are not 1 or 3 x 16385 bytes";
    if (error == NULL) {
        const int32_t *terms = in.buf;
        for (int i = 0; i < 3 * 256 * 4 && error == NULL; i++)
            if (terms[i] > MAX_PRODUCT || terms[i] < -MAX_PRODUCT)
                error = "a term is too large";
    }
    if (error == NULL) {
        Py_BEGIN_ALLOW_THREADS
        if (out.len == ONE + 1)
            apply_matrix_one_curve(pixels.buf, (size_t)pixels.len / 3, in.buf, out.buf);
        else
            apply_matrix_three_curves(pixels.buf, (size_t)pixels.len / 3, in.buf, out.buf);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&pixels);
    PyBuffer_Release(&in);
    PyBuffer_Release(&out);
    return result(error);
}

PyDoc_STRVAR(vector_doc,
"vector()\n--\n\n"
"The vector instructions apply_table uses on this processor (\"AVX-512\"), or None: the\n"
"portable C.");

static PyObject *
py_vector(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    if (has_avx512)
        return PyUnicode_FromString("AVX-512");
    Py_RETURN_NONE;
}

static int
exec_module(PyObject *module)
{
    (void)module;
    has_avx512 = avx512();
    return 0;
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, exec_module},
    {0, NULL},
};

static PyMethodDef methods[] = {
    {"apply_table", py_apply_table, METH_VARARGS, apply_table_doc},
    {"vector", py_vector, METH_NOARGS, vector_doc},
    {"apply_matrix", py_apply_matrix, METH_VARARGS, apply_matrix_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "labd.convert._tables",
    .m_doc = "Colour transforms of 8-bit RGB as tables, applied in place (labd.convert.tables).",
    .m_size = 0,
    .m_methods = methods,
    .m_slots = slots,
};

PyMODINIT_FUNC
PyInit__tables(void)
{
    return PyModuleDef_Init(&module);
}
