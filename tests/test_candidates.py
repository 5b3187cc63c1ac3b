import json

import pytest

from track1.candidates import Candidate, CandidateError, load_candidates, read_official, write_submission

MAX = "1558511111111111111111111111111111111111111111111111"
MIN = "1222233333000000333300000055550000000000007777000000"


def _write(tmp_path, text, name="c.json"):
    p = tmp_path / name
    p.write_text(text if isinstance(text, str) else json.dumps(text))
    return p


def test_reads_in_key_order(tmp_path, fm_profile):
    p = _write(tmp_path, {"arch2": {"acc": 0, "arch": MIN}, "arch1": {"arch": MAX}})
    d = read_official(p, fm_profile.space)
    assert list(d) == ["arch2", "arch1"] and d["arch1"]["arch"] == MAX


@pytest.mark.parametrize("content,msg", [
    ("{not json", "malformed JSON"),
    ("[1, 2]", "expected a non-empty JSON object"),
    ("{}", "expected a non-empty JSON object"),
    ({"a1": 5}, "entry 'a1': expected an object"),
    ({"a1": {"acc": 0}}, "entry 'a1': missing field 'arch'"),
    ({"a1": {"arch": 5}}, "entry 'a1': 'arch' must be a string"),
    ({"a1": {"arch": MAX}, "a2": {"arch": MAX}}, "entry 'a2': duplicate code, already in entry 'a1'"),
    ({"a1": {"arch": MAX}, "a2": {"arch": MAX[1:]}}, "entry 'a2': duplicate code"),
    ({"a1": {"arch": MAX}, "a2": {"arch": MAX[:-1] + "9"}}, "entry 'a2': arch code"),
    ('{"a1": {"arch": "%s"}, "a1": {"arch": "%s"}}' % (MAX, MIN), "duplicate key 'a1'"),
])
def test_malformed_candidate_files(tmp_path, fm_profile, content, msg):
    with pytest.raises(CandidateError) as e:
        read_official(_write(tmp_path, content), fm_profile.space)
    assert msg in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("acc,msg", [(None, "'acc' must be a finite number"), ("0.5", "finite number"),
                                     (float("nan"), "finite number"), (True, "finite number")])
def test_need_acc(tmp_path, fm_profile, acc, msg):
    p = tmp_path / "s.json"
    p.write_text(json.dumps({"a1": {"arch": MAX, "acc": acc}}).replace("NaN", "NaN"))
    with pytest.raises(CandidateError, match=msg):
        read_official(p, fm_profile.space, need_acc=True)


def test_missing_file(tmp_path):
    with pytest.raises(CandidateError, match="no such file"):
        read_official(tmp_path / "nope.json")


def test_submission_roundtrip_and_refusals(tmp_path, fm_profile):
    kc = [Candidate("arch7", MIN, MIN), Candidate("arch3", MAX, MAX)]
    p = tmp_path / "sub.json"
    write_submission(p, kc, [0.5, 0.75])
    d = read_official(p, fm_profile.space, need_acc=True)
    assert list(d) == ["arch7", "arch3"] and d["arch3"] == {"arch": MAX, "acc": 0.75}
    with pytest.raises(CandidateError, match="entry 'arch3'.*non-finite"):
        write_submission(tmp_path / "bad.json", kc, [0.5, float("inf")])
    assert not (tmp_path / "bad.json").exists()
    with pytest.raises(CandidateError, match="2 candidates"):
        write_submission(tmp_path / "bad.json", kc, [0.5])


@pytest.mark.parametrize("code,msg", [
    (MAX + "\n", repr(MAX + "\n") + ": length 53"),
    ("\r" + MAX[1:], "position 0: '\\r' is not a digit"),
    ("2" + MAX[1:], "position 0: image-size code 2 not in allowed [1]"),
    (MAX[1:], None),                                  # the 51-char rules form is fine
])
def test_codes_checked_without_a_profile(tmp_path, code, msg):
    # check.py reads submissions and GT files without a profile: the form is still checked
    p = _write(tmp_path, {"a1": {"arch": code, "acc": 0.5}})
    if msg is None:
        assert read_official(p, need_acc=True)["a1"]["arch"] == code
        return
    with pytest.raises(CandidateError) as e:
        read_official(p, need_acc=True)
    assert msg in str(e.value) and "\n" not in str(e.value) and "\r" not in str(e.value)


@pytest.mark.parametrize("acc", ["1e300", "-1e101", "9" * 400, "NaN", "Infinity"])
def test_scores_the_metrics_cannot_handle_are_refused(tmp_path, acc):
    p = _write(tmp_path, '{"a1": {"arch": "%s", "acc": %s}}' % (MAX, acc))
    with pytest.raises(CandidateError, match="'acc' must be a finite number of magnitude at most 1e\\+100"):
        read_official(p, need_acc=True)


def test_candidate_path_that_is_a_directory(tmp_path):
    with pytest.raises(CandidateError, match=f"candidate file '{tmp_path}' is a directory"):
        read_official(tmp_path)


def test_candidates_are_canonical_and_the_submission_writes_the_files_own_form(tmp_path, fm_profile):
    p = _write(tmp_path, json.dumps({"a1": {"arch": MIN[1:]}, "a2": {"arch": MAX}}))
    cands = load_candidates(p, fm_profile.space)
    assert [c.code for c in cands] == [MIN, MAX] and [c.arch for c in cands] == [MIN[1:], MAX]
    write_submission(tmp_path / "s.json", cands, [1.0, 2.0])
    assert json.loads((tmp_path / "s.json").read_text())["a1"]["arch"] == MIN[1:]
