/* RadioDiff's log lines tokenised in one pass: the compiled half of radiodiff_bulk.
 *
 * Reading 300k lines with a regex and a dict per line costs seconds in Python, and a bulk rewrite
 * for pandas' CSV parser needs several passes over the text; this reads each line once.
 *
 * scan(body, starts, ends, lines, prefix, max_shapes) looks at the lines given (whose time stamp
 * and " [Train Step] " the caller has checked: each line's text from starts[i] + prefix to ends[i])
 * and reads "<step>/<total>: key: value, key: value, " as Python's plain per-line parser would,
 * or leaves the line alone (shape -1) when it is not sure to: keys of [A-Za-z0-9_/.-] only, each
 * once; values spelt as a decimal number or nan / inf; the step below 2^53; the line ending ", ".
 * A number is converted exactly as float() converts it: by one correctly rounded division when the
 * digits fit (Clinger's fast path), else by CPython's own PyOS_string_to_double.
 *
 * Returns (shape int32[n], step int64[n], total int64[n], offset int64[n], values float64[],
 * shapes): as bytes objects for numpy.frombuffer. shapes is a list of key tuples (str), in order
 * of first appearance; line k's values are values[offset[k] : offset[k] + len(shapes[shape[k]])].
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_KEYS 256          /* keys on one line; more: the plain parser */
#define TWO53 9007199254740992LL

typedef struct {
    char *keys;               /* "k1\0k2\0...": one line's key sequence */
    Py_ssize_t len;
    int nkeys;
} Shape;

static const double POW10[23] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21,
                                 1e22};

static unsigned char KEY_CHAR[256];       /* [A-Za-z0-9_/.-]: filled at import */

static int ieq(const char *p, const char *end, const char *word) {
    Py_ssize_t n = (Py_ssize_t)strlen(word);
    if (end - p != n) return 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        char c = p[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != word[i]) return 0;
    }
    return 1;
}

#define DIGIT(c) ((unsigned)((c) - '0') < 10u)

/* The number at p (ending before end): where it ends, its value in *out; NULL when it is not
 * spelt as a plain decimal number, nan or inf (float() might read it otherwise). */
static const char *number(const char *p, const char *end, double *out) {
    const char *s = p;
    int neg = 0;
    if (s < end && (*s == '-' || *s == '+')) { neg = (*s == '-'); s++; }
    if (s < end && !DIGIT(*s) && *s != '.') {            /* nan, inf, infinity (any case) */
        const char *w = s;
        while (w < end && *w != ',' && *w != ' ') w++;
        if (ieq(s, w, "nan")) *out = neg ? -Py_NAN : Py_NAN;
        else if (ieq(s, w, "inf") || ieq(s, w, "infinity")) *out = neg ? -Py_HUGE_VAL : Py_HUGE_VAL;
        else return NULL;
        return w;
    }
    uint64_t mant = 0;
    int frac = 0, seen = 0, lost = 0;
    for (; s < end && DIGIT(*s); s++, seen++) {
        if (mant < 100000000000000000ULL) mant = mant * 10 + (uint64_t)(*s - '0');
        else lost = 1;                          /* beyond 17 digits: the slow way below */
    }
    if (s < end && *s == '.') {
        for (s++; s < end && DIGIT(*s); s++, seen++) {
            if (mant < 100000000000000000ULL) { mant = mant * 10 + (uint64_t)(*s - '0'); frac++; }
            else lost = 1;
        }
    }
    if (!seen) return NULL;
    long exp10 = 0;
    if (s < end && (*s == 'e' || *s == 'E')) {
        s++;
        int eneg = 0, edigits = 0;
        if (s < end && (*s == '-' || *s == '+')) { eneg = (*s == '-'); s++; }
        for (; s < end && DIGIT(*s); s++, edigits++)
            if (exp10 < 100000) exp10 = exp10 * 10 + (*s - '0');
        if (!edigits) return NULL;
        if (eneg) exp10 = -exp10;
    }
    long e = exp10 - frac;
    if (!lost && mant <= (1ULL << 53) && e >= -22 && e <= 22) {
        double m = (double)mant;                /* exact; one correctly rounded operation */
        *out = e < 0 ? m / POW10[-e] : m * POW10[e];
        if (neg) *out = -*out;
        return s;
    }
    char buf[512];                              /* rare: CPython's correctly rounded strtod */
    Py_ssize_t n = s - p;
    if (n >= (Py_ssize_t)sizeof(buf)) return NULL;
    memcpy(buf, p, (size_t)n);
    buf[n] = 0;
    char *stop = NULL;
    double v = PyOS_string_to_double(buf, &stop, NULL);
    if (v == -1.0 && PyErr_Occurred()) { PyErr_Clear(); return NULL; }
    if (stop != buf + n) return NULL;
    *out = v;
    return s;
}

/* Digits p..end as a count of steps; -1 when not plain digits or beyond 18 of them. */
static int64_t count(const char *p, const char *end) {
    if (p == end || end - p > 18) return -1;
    int64_t v = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9') return -1;
        v = v * 10 + (*p - '0');
    }
    return v;
}

typedef struct { const char *p; Py_ssize_t n; } Span;

/* The line's key sequence among the shapes (adding it when new and there is room); -1 if none. */
static int shape_of(Shape *shapes, int *nshapes, int max_shapes, Span *keys, int nkeys,
                    int hint) {
    for (int t = -1; t < *nshapes; t++) {
        int k = t < 0 ? hint : t;
        if (k < 0 || (t >= 0 && k == hint)) continue;
        Shape *sh = &shapes[k];
        if (sh->nkeys != nkeys) continue;
        const char *q = sh->keys;
        int j = 0;
        for (; j < nkeys; j++) {
            if (memcmp(q, keys[j].p, (size_t)keys[j].n) != 0 || q[keys[j].n] != 0) break;
            q += keys[j].n + 1;
        }
        if (j == nkeys) return k;
    }
    if (*nshapes >= max_shapes) return -1;
    for (int a = 0; a < nkeys; a++)             /* a key twice: the plain parser keeps the last */
        for (int b = a + 1; b < nkeys; b++)
            if (keys[a].n == keys[b].n && memcmp(keys[a].p, keys[b].p, (size_t)keys[a].n) == 0)
                return -1;
    Py_ssize_t len = 0;
    for (int j = 0; j < nkeys; j++) len += keys[j].n + 1;
    char *buf = PyMem_Malloc((size_t)len);
    if (!buf) return -2;
    char *q = buf;
    for (int j = 0; j < nkeys; j++) {
        memcpy(q, keys[j].p, (size_t)keys[j].n);
        q[keys[j].n] = 0;
        q += keys[j].n + 1;
    }
    shapes[*nshapes] = (Shape){buf, len, nkeys};
    return (*nshapes)++;
}

static PyObject *scan(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer body, starts, ends, lines;
    Py_ssize_t prefix;
    int max_shapes;
    if (!PyArg_ParseTuple(args, "y*y*y*y*ni", &body, &starts, &ends, &lines, &prefix,
                          &max_shapes))
        return NULL;
    PyObject *result = NULL;
    Shape *shapes = NULL;
    int nshapes = 0;
    Py_ssize_t n = lines.len / (Py_ssize_t)sizeof(int64_t);
    Py_ssize_t nl = starts.len / (Py_ssize_t)sizeof(int64_t);
    PyObject *o_shape = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(int32_t));
    PyObject *o_step = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(int64_t));
    PyObject *o_total = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(int64_t));
    PyObject *o_off = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(int64_t));
    Py_ssize_t cap = n * 16 + 64, used = 0;
    double *values = PyMem_Malloc((size_t)cap * sizeof(double));
    Span *keys = PyMem_Malloc(MAX_KEYS * sizeof(Span));
    double *vals = PyMem_Malloc(MAX_KEYS * sizeof(double));
    shapes = PyMem_Calloc((size_t)(max_shapes > 0 ? max_shapes : 1), sizeof(Shape));
    if (!o_shape || !o_step || !o_total || !o_off || !values || !keys || !vals || !shapes) {
        PyErr_NoMemory();
        goto done;
    }
    const char *text = body.buf;
    const int64_t *st = starts.buf, *en = ends.buf, *li = lines.buf;
    int32_t *shape = (int32_t *)PyBytes_AS_STRING(o_shape);
    int64_t *step = (int64_t *)PyBytes_AS_STRING(o_step);
    int64_t *total = (int64_t *)PyBytes_AS_STRING(o_total);
    int64_t *off = (int64_t *)PyBytes_AS_STRING(o_off);
    int hint = -1;
    for (Py_ssize_t r = 0; r < n; r++) {
        shape[r] = -1; step[r] = -1; total[r] = 0; off[r] = used;
        int64_t i = li[r];
        if (i < 0 || i >= nl || st[i] < 0 || en[i] > body.len || st[i] + prefix > en[i]) continue;
        const char *p = text + st[i] + prefix, *end = text + en[i];
        const char *q = memchr(p, '/', (size_t)(end - p));
        if (!q) continue;
        int64_t s = count(p, q);
        if (s < 0 || s > TWO53) continue;
        p = q + 1;
        q = memchr(p, ':', (size_t)(end - p));
        if (!q || q + 1 >= end || q[1] != ' ') continue;
        int64_t t = count(p, q);
        if (t < 0) continue;
        p = q + 2;
        int nkeys = 0, ok = 1;
        while (p < end) {                       /* "key: value, " */
            const char *k = p;
            while (p < end && KEY_CHAR[(unsigned char)*p]) p++;
            if (p == k || end - p < 2 || p[0] != ':' || p[1] != ' ' || nkeys == MAX_KEYS) {
                ok = 0;
                break;
            }
            keys[nkeys].p = k;
            keys[nkeys].n = p - k;
            p += 2;
            p = number(p, end, &vals[nkeys]);
            if (!p || end - p < 2 || p[0] != ',' || p[1] != ' ') {
                ok = 0;
                break;
            }
            nkeys++;
            p += 2;
        }
        if (!ok || nkeys == 0) continue;
        int k = shape_of(shapes, &nshapes, max_shapes, keys, nkeys, hint);
        if (k == -2) { PyErr_NoMemory(); goto done; }
        if (k < 0) continue;
        hint = k;
        if (used + nkeys > cap) {
            Py_ssize_t grow = cap * 2 + nkeys;
            double *more = PyMem_Realloc(values, (size_t)grow * sizeof(double));
            if (!more) { PyErr_NoMemory(); goto done; }
            values = more;
            cap = grow;
        }
        memcpy(values + used, vals, (size_t)nkeys * sizeof(double));
        used += nkeys;
        shape[r] = k;
        step[r] = s;
        total[r] = (t > 0 && t <= TWO53) ? t : 0;
    }
    PyObject *o_values = PyBytes_FromStringAndSize((const char *)values,
                                                   used * (Py_ssize_t)sizeof(double));
    PyObject *o_shapes = PyList_New(nshapes);
    if (!o_values || !o_shapes) { Py_XDECREF(o_values); Py_XDECREF(o_shapes); goto done; }
    for (int k = 0; k < nshapes; k++) {
        PyObject *tup = PyTuple_New(shapes[k].nkeys);
        if (!tup) { Py_DECREF(o_values); Py_DECREF(o_shapes); goto done; }
        const char *q = shapes[k].keys;
        for (int j = 0; j < shapes[k].nkeys; j++) {
            Py_ssize_t len = (Py_ssize_t)strlen(q);
            PyObject *key = PyUnicode_DecodeASCII(q, len, "strict");
            if (!key) { Py_DECREF(tup); Py_DECREF(o_values); Py_DECREF(o_shapes); goto done; }
            PyTuple_SET_ITEM(tup, j, key);
            q += len + 1;
        }
        PyList_SET_ITEM(o_shapes, k, tup);
    }
    result = Py_BuildValue("(OOOONN)", o_shape, o_step, o_total, o_off, o_values, o_shapes);
done:
    Py_XDECREF(o_shape); Py_XDECREF(o_step); Py_XDECREF(o_total); Py_XDECREF(o_off);
    PyMem_Free(values); PyMem_Free(keys); PyMem_Free(vals);
    if (shapes) {
        for (int k = 0; k < nshapes; k++) PyMem_Free(shapes[k].keys);
        PyMem_Free(shapes);
    }
    PyBuffer_Release(&body); PyBuffer_Release(&starts); PyBuffer_Release(&ends);
    PyBuffer_Release(&lines);
    return result;
}

static PyMethodDef METHODS[] = {
    {"scan", scan, METH_VARARGS, "Tokenise RadioDiff log lines (see the module's source)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {PyModuleDef_HEAD_INIT, "_scan", NULL, -1, METHODS,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__scan(void) {
    for (int c = 0; c < 256; c++)
        KEY_CHAR[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || DIGIT(c) || c == '_' ||
                      c == '/' || c == '.' || c == '-';
    return PyModule_Create(&MODULE);
}
