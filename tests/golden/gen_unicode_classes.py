#!/usr/bin/env python3
"""The PyPI `tokenizers` package's (0.23.3) Unicode behaviour, for every scalar value, in two forms.

1. io/unicode_bert_tables.inc: the per-character properties its BertNormalizer and BertPreTokenizer
   use, read off the package itself (not off a Unicode database, since the package's Rust crates each
   carry their own Unicode version): the characters clean_text removes, whitespace, punctuation, the
   non-spacing marks strip_accents removes, the lowercase mapping, the canonical decompositions (NFD,
   Hangul excepted: it is algorithmic) and the canonical combining classes NFD's reordering uses.
   ftrain's tokenizer uses these tables (io/tokenizer.cpp).
2. tests/golden/fixtures/unicode_classes_<config>.txt: the end-to-end result of normalizing and
   pre-tokenizing "a" + c + "b" for every code point c (U+0000..U+10FFFF without the surrogates), in
   the "uncased" configuration (all-MiniLM-L6-v2's tokenizer.json: clean_text, handle_chinese_chars,
   lowercase, strip_accents following lowercase), the "cased" one (lowercase and strip_accents
   off) and "lowercase_keep_accents" (lowercase on, strip_accents off); the pieces are one of
     D        "ab": c is removed (a control or format character, or a non-spacing mark)
     W        "a", "b": c is whitespace
     S x      "a", x, "b": c is split off as x (punctuation, CJK ideographs)
     K x      "a" + x + "b": c stays inside the word as x
     H        K with x the NFD of a Hangul syllable by Unicode's algorithm (checked on all of them)
   where x is c itself unless lowercasing or NFD changed it. Consecutive code points of one kind whose
   x is c itself are one line "<first> <last> <kind>"; any other code point is a line
   "<cp> <kind> <x as hex code points joined by '.'>". The uncased file adds "pair <c1> <c2> <pieces>"
   lines for the pairs of combining characters that strip_accents keeps (one per combining class), so
   that NFD's reordering is tested too. tests/io/test_unicode_classes.cpp checks ftrain against these on all code points.

Run in the generator venv (tools/setup_generator_env.sh, plus `pip install tokenizers==0.23.3`).
"""
import os
import sys

import tokenizers
from tokenizers import normalizers, pre_tokenizers

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CODE_POINTS = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
PRE = pre_tokenizers.BertPreTokenizer()
NFD = normalizers.NFD()
LOWER = normalizers.Lowercase()
CLEAN = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=False)
STRIP = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False)
CONFIGS = {
    "uncased": normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True),
    "cased": normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=False),
    "lowercase_keep_accents": normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=False,
                                                         lowercase=True),
}
# One combining character per canonical combining class in use (Unicode's fixed set of values), all
# old enough for the package's tables; a class is usable only if the package reorders with it.
CLASS_REFERENCES = {1: 0x334, 7: 0x93C, 8: 0x3099, 9: 0x94D, 10: 0x5B0, 11: 0x5B1, 12: 0x5B2, 13: 0x5B3, 14: 0x5B4,
                    15: 0x5B5, 16: 0x5B6, 17: 0x5B7, 18: 0x5B8, 19: 0x5B9, 20: 0x5BB, 21: 0x5BC, 22: 0x5BD,
                    23: 0x5BF, 24: 0x5C1, 25: 0x5C2, 26: 0xFB1E, 27: 0x64B, 28: 0x64C, 29: 0x64D, 30: 0x618,
                    31: 0x619, 32: 0x61A, 33: 0x651, 34: 0x652, 35: 0x670, 36: 0x711, 84: 0xC55, 91: 0xC56,
                    103: 0xE38, 107: 0xE48, 118: 0xEB8, 122: 0xEC8, 129: 0xF71, 130: 0xF72, 132: 0xF74, 202: 0x321,
                    214: 0x1DCE, 216: 0x31B, 218: 0x302A, 220: 0x316, 222: 0x59A, 224: 0x302E, 226: 0x1D16D,
                    228: 0x5AE, 230: 0x300, 232: 0x315, 233: 0x35C, 234: 0x35D, 240: 0x345}


def reorders(first, second):
    """Whether the package's NFD puts `second` before `first` (canonical ordering swapped them)."""
    s = chr(first) + chr(second)
    return first != second and NFD.normalize_str(s) == chr(second) + chr(first)


def ranges(codes):
    out, run = [], None
    for c in sorted(codes):
        if run and c == run[1] + 1:
            run[1] = c
        else:
            if run:
                out.append(tuple(run))
            run = [c, c]
    if run:
        out.append(tuple(run))
    return out


def properties():
    removed, space, punct, mark, lower, decomp, combining = [], [], [], [], {}, {}, {}
    for c in CODE_POINTS:
        ch = chr(c)
        cleaned = CLEAN.normalize_str(ch)
        if cleaned == "":
            removed.append(c)
        pieces = [p for p, _ in PRE.pre_tokenize_str("a" + ch + "b")]
        if pieces == ["a", "b"]:
            space.append(c)
        # One whitespace class for both (clean_text removes some of them first, as controls).
        assert (cleaned == " ") == (pieces == ["a", "b"] and cleaned != ""), hex(c)
        if pieces == ["a", ch, "b"]:
            punct.append(c)
        l = LOWER.normalize_str(ch)
        if l != ch:
            lower[c] = l
        d = NFD.normalize_str(ch)
        if d != ch:
            if not 0xAC00 <= c <= 0xD7A3:
                decomp[c] = d
            continue
        if STRIP.normalize_str(ch) == "":
            mark.append(c)
        if reorders(c, 0x334) or reorders(0x301, c):  # class > 1, or 0 < class < 230
            combining[c] = None
    usable = sorted(v for v, ref in CLASS_REFERENCES.items()
                    if v == 1 or reorders(ref, 0x334) or reorders(0x301, ref))
    for c in combining:  # the smallest usable class w with not (class(c) > w)
        combining[c] = next(w for w in usable if not reorders(c, CLASS_REFERENCES[w]))
    for c in range(0xAC00, 0xD7A4):
        assert NFD.normalize_str(chr(c)) == hangul(c), hex(c)
    return removed, space, punct, mark, lower, decomp, combining


def check_reordering(combining):
    """Canonical ordering by the table's classes must be the package's on every pair."""
    marks = sorted(combining)
    for a in marks:
        for b in marks:
            assert reorders(a, b) == (combining[a] > combining[b] > 0), (hex(a), hex(b))


def write_tables(removed, space, punct, mark, lower, decomp, combining):
    def range_table(name, comment, codes):
        rows = ", ".join(f"{{0x{a:X}, 0x{b:X}}}" for a, b in ranges(codes))
        return f"// {comment}\ninline constexpr Range {name}[] = {{{rows}}};\n"

    def map_table(name, comment, m):
        assert max(len(v) for v in m.values()) <= 4
        rows = ", ".join(f"{{0x{c:X}, {{{', '.join(f'0x{ord(x):X}' for x in v)}}}}}" for c, v in sorted(m.items()))
        return f"// {comment}\ninline constexpr Mapping {name}[] = {{{rows}}};\n"

    classes = []
    for c in sorted(combining):
        if classes and classes[-1][1] == c - 1 and classes[-1][2] == combining[c]:
            classes[-1][1] = c
        else:
            classes.append([c, c, combining[c]])
    class_rows = ", ".join(f"{{0x{a:X}, 0x{b:X}, {v}}}" for a, b, v in classes)
    text = f"""// Generated by tests/golden/gen_unicode_classes.py from the PyPI tokenizers {tokenizers.__version__} package (its
// BertNormalizer, BertPreTokenizer, NFD and Lowercase): do not edit. Sorted; ranges are inclusive.
// clang-format off
namespace ft::io::unicode_bert {{

struct Range {{ char32_t first, last; }};
struct Mapping {{ char32_t from; char32_t to[4]; }};  // to: up to 4 code points, 0-padded
struct ClassRange {{ char32_t first, last; unsigned char combining_class; }};

{range_table("kRemoved", "clean_text removes these (U+0000, U+FFFD and what its is_control calls control)", removed)}
{range_table("kWhitespace", "whitespace: clean_text turns these into a space (unless it removes them as controls: checked first); the pre-tokenizer splits on them", space)}
{range_table("kPunctuation", "the pre-tokenizer splits these off as words of their own", punct)}
{range_table("kNonspacingMark", "strip_accents removes these after NFD", mark)}
{map_table("kLowercase", "lowercase: these change (Rust's char::to_lowercase)", lower)}
{map_table("kDecomposition", "NFD: full canonical decompositions (Hangul syllables are algorithmic)", decomp)}
// NFD's canonical ordering: the combining classes that are not 0
inline constexpr ClassRange kCombiningClass[] = {{{class_rows}}};

}}  // namespace ft::io::unicode_bert
// clang-format on
"""
    path = os.path.join(ROOT, "io", "unicode_bert_tables.inc")
    with open(path, "w") as f:
        f.write(text)
    print(f"{path}: {len(ranges(removed))} removed ranges, {len(space)} whitespace, {len(ranges(punct))} punctuation "
          f"ranges, {len(ranges(mark))} mark ranges, {len(lower)} lowercase, {len(decomp)} decompositions, "
          f"{len(combining)} combining", file=sys.stderr)


def classify(norm, text):
    pieces = [p for p, _ in PRE.pre_tokenize_str(norm.normalize_str(text))]
    if pieces == ["ab"]:
        return "D", None
    if pieces == ["a", "b"]:
        return "W", None
    if len(pieces) == 3 and pieces[0] == "a" and pieces[2] == "b":
        return "S", pieces[1]
    if len(pieces) == 1 and pieces[0].startswith("a") and pieces[0].endswith("b") and len(pieces[0]) > 2:
        return "K", pieces[0][1:-1]
    raise AssertionError(f"{text!r}: {pieces}")


def hangul(c):
    """NFD of a Hangul syllable by the algorithm of Unicode section 3.12 (None for other code points)."""
    if not 0xAC00 <= c <= 0xD7A3:
        return None
    s = c - 0xAC00
    return chr(0x1100 + s // 588) + chr(0x1161 + (s % 588) // 28) + (chr(0x11A7 + s % 28) if s % 28 else "")


def hexes(s):
    return ".".join(f"{ord(ch):X}" for ch in s)


def write_fixture(name, norm, kept_marks):
    lines = [f"# tokenizers {tokenizers.__version__}, {name}: see tests/golden/gen_unicode_classes.py"]
    run = None  # [first, last, kind]
    for c in CODE_POINTS:
        kind, x = classify(norm, "a" + chr(c) + "b")
        if x is not None and x == hangul(c):  # the generator has checked the algorithm on all of them
            kind, x = "H", None
        if x is None or x == chr(c):
            if run and run[2] == kind and run[1] == c - 1:
                run[1] = c
                continue
            if run:
                lines.append(f"{run[0]:X} {run[1]:X} {run[2]}")
            run = [c, c, kind]
        else:
            if run:
                lines.append(f"{run[0]:X} {run[1]:X} {run[2]}")
            run = None
            lines.append(f"{c:X} {kind} {hexes(x)}")
    if run:
        lines.append(f"{run[0]:X} {run[1]:X} {run[2]}")
    for a in kept_marks:
        for b in kept_marks:
            pieces = [p for p, _ in PRE.pre_tokenize_str(norm.normalize_str("a" + chr(a) + chr(b) + "b"))]
            lines.append(f"pair {a:X} {b:X} " + " ".join(hexes(p) for p in pieces))
    path = os.path.join(HERE, "fixtures", f"unicode_classes_{name}.txt")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{path}: {len(lines) - 1} lines", file=sys.stderr)


def main():
    removed, space, punct, mark, lower, decomp, combining = properties()
    check_reordering(combining)
    write_tables(removed, space, punct, mark, lower, decomp, combining)
    # Combining characters strip_accents keeps, one per combining class: their pairs show the reordering.
    kept = {}
    for c in sorted(set(combining) - set(mark)):
        kept.setdefault(combining[c], c)
    write_fixture("uncased", CONFIGS["uncased"], sorted(kept.values()))
    write_fixture("cased", CONFIGS["cased"], [])
    write_fixture("lowercase_keep_accents", CONFIGS["lowercase_keep_accents"], [])


if __name__ == "__main__":
    main()
