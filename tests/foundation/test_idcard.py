from hypothesis import given, strategies as st

from sitegate.idcard import check_digit, check_digit_ok, mask, mask_text, problem

digits17 = st.text(alphabet="0123456789", min_size=17, max_size=17)


def test_known_numbers():
    # GB 11643's own example 11010519491231002X and a common sample
    assert check_digit_ok("11010519491231002X")
    assert check_digit_ok("11010519491231002x")   # people type a lower-case x
    assert not check_digit_ok("110105194912310021")
    assert problem("110105194912310021") == "ID number check digit is 1, GB 11643 requires X"
    assert "18 characters" in problem("1101051949123100")
    assert "birth date" in problem("110105194913310029")


@given(digits17)
def test_check_digit_makes_any_17_digits_valid(first17):
    assert check_digit_ok(first17 + check_digit(first17))


@given(digits17, st.integers(0, 16), st.integers(1, 9))
def test_any_single_digit_error_is_caught(first17, pos, delta):
    # MOD 11-2 detects every single-digit substitution: that is why it is used
    good = first17 + check_digit(first17)
    wrong = good[:pos] + str((int(good[pos]) + delta) % 10) + good[pos + 1:]
    assert not check_digit_ok(wrong)


def test_mask():
    assert mask("370102198511201233") == "370102********1233"
    assert mask("") == ""
    assert "1985" not in mask("370102198511201233")


def test_mask_text_hides_every_id_number_in_a_line():
    line = "worker 370102198511201233 and 11010519491231002X at gate; order 12345"
    out = mask_text(line)
    assert "370102********1233" in out and "110105********002X" in out
    assert "198511" not in out and "order 12345" in out
