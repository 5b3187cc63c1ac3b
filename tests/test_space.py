import numpy as np
import pytest

from track1.candidates import load_candidates
from track1.space import CodeError, SearchSpace, hamming, make_divisible

MAX = "1558511111111111111111111111111111111111111111111111"
MIN = "1222233333000000333300000055550000000000007777000000"


@pytest.mark.parametrize("base,expected", [
    (64, [64, 64, 56, 56, 48, 48, 48]),
    (128, [128, 120, 112, 112, 104, 96, 88]),
    (256, [256, 240, 232, 216, 208, 192, 176]),
    (512, [512, 488, 464, 432, 408, 384, 360]),
])
def test_make_divisible_table(base, expected):
    ratios = (1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7)
    assert [make_divisible(base * r, 8) for r in ratios] == expected


def test_make_divisible_never_drops_more_than_ten_percent():
    for v in np.linspace(1, 600, 997):
        for d in (1, 2, 4, 8):
            out = make_divisible(v, d)
            assert out % d == 0 and out >= 0.9 * v - 1e-9 and out >= d


def test_roundtrip_both_forms(in_profile):
    sp = in_profile.space
    for code in [MAX, MIN] + sp.sample_codes(50, seed=3):
        arch = sp.parse(code)
        assert sp.encode(arch) == code
        short = sp.encode(arch, 51)
        assert len(short) == 51 and short == code[1:]
        assert sp.parse(short) == arch


def test_max_min_codes(in_profile, fm_profile):
    for prof in (in_profile, fm_profile):
        assert prof.space.max_code() == MAX
        assert prof.space.min_code() == MIN


def test_sampling_is_seeded_valid_and_covers_the_subspace(fm_profile):
    sp = fm_profile.space
    a, b = sp.sample_codes(300, seed=7), sp.sample_codes(300, seed=7)
    assert a == b and a != sp.sample_codes(300, seed=8)
    archs = [sp.parse(c) for c in a]
    assert {d for x in archs for d in [x.depths[2]]} == set(range(2, 9))
    assert {x.stage_out[3] for x in archs} == set(range(1, 8))
    assert {x.stem for x in archs} == {1, 2, 3}


def test_hamming():
    assert hamming(MAX, MAX) == 0
    assert hamming(MAX, MIN) == sum(x != y for x, y in zip(MAX, MIN))
    assert hamming(MAX, MAX[1:]) == 0 and hamming(MAX[1:], MIN) == hamming(MAX, MIN)   # either form


def test_code_positions_live_in_space():
    from track1.space import DEPTH_CHARS, WIDTH_CHARS, body, digits, prefix_key
    code = "1226232333000000221200000045152555154500003111000000"
    assert body(code) == code[1:] and body(code[1:]) == code[1:]
    assert [int(code[1 + p]) for p in DEPTH_CHARS] == [2, 2, 6, 2] and len(WIDTH_CHARS) == 47
    assert digits(code).tolist() == [int(c) for c in code[1:]]
    # the stage-1 prefix: depth 2, stem 3, stage 1's five slots
    assert prefix_key(code) == "2" + "3" + "2333000000"
    other = code[:16] + "3" + code[17:]          # a stage-2 digit: same prefix
    assert prefix_key(other) == prefix_key(code) != prefix_key(code[:7] + "1" + code[8:])


# Malformed codes: (code, substring the one-line message must contain).
def _sub(code, pos, ch):
    return code[:pos] + ch + code[pos + 1:]


MALFORMED = [
    ("", "length 0"),
    ("1" * 50, "length 50"),
    (MAX + "1", "length 53"),
    (_sub(MAX, 10, "a"), "position 10: 'a' is not a digit"),
    (_sub(MAX, 0, "x"), "position 0: 'x' is not a digit"),
    (_sub(MAX, 20, " "), "position 20"),
    (_sub(MAX, 0, "2"), "image-size code 2"),
    (_sub(MAX, 0, "0"), "image-size code 0"),
    (_sub(MAX, 1, "1"), "depth 1 of stage 1 out of range 2-5"),
    (_sub(MAX, 1, "6"), "depth 6 of stage 1 out of range 2-5"),
    (_sub(MAX, 2, "9"), "depth 9 of stage 2 out of range 2-5"),
    (_sub(MAX, 3, "9"), "depth 9 of stage 3 out of range 2-8"),
    (_sub(MAX, 3, "0"), "depth 0 of stage 3"),
    (_sub(MAX, 4, "6"), "depth 6 of stage 4 out of range 2-5"),
    (_sub(MAX, 5, "0"), "stem width code is 0"),
    (_sub(MAX, 5, "8"), "stem width code 8 outside 1..7"),
    (_sub(MAX, 5, "4"), "stem width code 4 not in the profile's allowed set"),
    (_sub(MAX, 6, "0"), "stage 1 block 1 conv1 width code is 0 in an active block"),
    (_sub(MAX, 7, "0"), "stage 1 block 1 conv2 width code is 0"),
    (_sub(MAX, 6, "9"), "conv1 width code 9 outside 1..7"),
    (_sub(MAX, 6, "4"), "stage 1 block 1 conv1 width code 4 not in the profile's allowed set [1, 2, 3]"),
    (_sub(MAX, 18, "6"), "position 18: stage 2 block 2 conv1 width code 6 not in"),
    (_sub(MAX, 26, "6"), "stage 3 block 1 conv1 width code 6 not in"),
    (_sub(MAX, 48, "8"), "width code 8 outside 1..7"),
    (_sub(MIN, 14, "1"), "stage 1 has depth 2 but slot 5 is '10', expected padding '00'"),
    (_sub(MIN, 11, "3"), "expected padding '00'"),
    (_sub(MIN, 51, "5"), "stage 4 has depth 2 but slot 5"),
    (_sub(MIN, 1, "3"), "stage 1 block 3 conv1 width code is 0 in an active block"),
    (_sub(MAX, 9, "3"), "stage 1 block 2 output width 56 (code 3) differs from block 1's 64"),
    (_sub(MAX, 29, "3"), "stage 3 block 2 output width"),
    (_sub(MAX, 11, "3"), "position 11: stage 1 block 3 output width"),
    (_sub(MAX, 5, "3"), "position 7: stage 1 output width 64 (code 1) differs from stem width 56 (code 3)"),
    (_sub(MAX, 50, "a"), "position 50"),
    (MAX[1:-1] + "x", "position 50: 'x' is not a digit"),
    ("5585" + "0" + MAX[6:], "position 4: stem width code is 0"),
    ("1" + "2222" + "1" + "1111" + "00" * 3 + "1111" + "00" * 3 + "1111" + "00" * 6 + "1112" + "00" * 3,
     "position 45: stage 4 block 2 output width 488 (code 2) differs from block 1's 512 (code 1)"),
]


@pytest.mark.parametrize("code,msg", MALFORMED)
def test_malformed_codes_rejected_with_message(in_profile, code, msg):
    with pytest.raises(CodeError) as e:
        in_profile.space.parse(code)
    text = str(e.value)
    assert msg in text
    assert "\n" not in text
    assert text.startswith(f"arch code '{code}'")


def test_malformed_corpus_is_large_enough():
    assert len(MALFORMED) >= 30


def test_non_string_code(in_profile):
    with pytest.raises(CodeError, match="expected a string"):
        in_profile.space.parse(1558)


def test_profile_sets_restrict_codes():
    sp = SearchSpace([64, 128, 256, 512], 8, stage_codes=((1, 2, 3), (1, 2, 3), (1, 2, 3), (1, 2, 3)))
    with pytest.raises(CodeError, match="stage 4 block 1 conv1 width code 5 not in"):
        sp.parse(MAX[:42] + "55" + MAX[44:])


def test_official_codes_parse_roundtrip_and_are_distinct(official_file, fm_profile, in_profile):
    keys_codes = load_candidates(official_file, fm_profile.space)
    assert len(keys_codes) == 45000
    sp = fm_profile.space
    configs = set()
    for key, code, _ in keys_codes:
        arch = sp.parse(code)
        assert sp.encode(arch) == code
        assert sp.parse(code[1:]) == arch
        spec = sp.net_spec(arch)
        configs.add((spec.stem,) + tuple((b.cin, b.mid, b.cout) for b in spec.blocks))
    # The fashion_mnist rounding keeps every choice the candidates distinguish.
    assert len(configs) == 45000
    for _, code, _ in keys_codes[:2000]:
        in_profile.space.parse(code)
