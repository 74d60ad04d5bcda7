"""simnet reads and writes text exactly as the chain's Go code does (`harness/model/simnet/gotext.py`). The
expected values below were produced by the Go functions themselves (math/big and cosmossdk.io/math v1.5.3,
strconv, time, github.com/cosmos/btcutil/bech32 v1.0.5) for the same inputs."""

from __future__ import annotations

import pytest

from harness.chain.keys import DEV_MNEMONIC, Key
from harness.model.simnet.gotext import (
    GoError,
    acc_address,
    bech32_decode,
    codec_address,
    go_quote,
    go_time,
    parse_big_int,
    parse_legacy_dec,
)

ADDRESS = Key.from_mnemonic(DEV_MNEMONIC).address

BIG_INT = [  # (text, value or Go's error) -- math.Int.Unmarshal
    ("x", 'math/big: cannot unmarshal "x" into a *big.Int'),
    ("1_0", 10),
    ("010", 8),
    ("0x10", 16),
    ("+5", 5),
    ("-5", -5),
    (" 2", 'math/big: cannot unmarshal " 2" into a *big.Int'),
    ("0b11", 3),
    ("0o7", 7),
    ("_1", 'math/big: cannot unmarshal "_1" into a *big.Int'),
    ("1__0", 'math/big: cannot unmarshal "1__0" into a *big.Int'),
    ("-0", 0),
    ("00", 0),
    ("08", 'math/big: cannot unmarshal "08" into a *big.Int'),
    ("0_7", 7),
    ("0x_1", 1),
    ("0x", 'math/big: cannot unmarshal "0x" into a *big.Int'),
    ("0b2", 'math/big: cannot unmarshal "0b2" into a *big.Int'),
    ("-", 'math/big: cannot unmarshal "-" into a *big.Int'),
    ("+-5", 'math/big: cannot unmarshal "+-5" into a *big.Int'),
    ("1_", 'math/big: cannot unmarshal "1_" into a *big.Int'),
    ("0B1_0", 2),
    ("0b" + "1" * 257, "integer out of range; got: 257, max: 256"),
    (str(2**256 - 1), 2**256 - 1),
    ("1e5", 'math/big: cannot unmarshal "1e5" into a *big.Int'),
    ("٣", 'math/big: cannot unmarshal "٣" into a *big.Int'),
]
LEGACY_DEC = [  # (text, value in 10^-18 units or None) -- math.LegacyNewDecFromStr
    ("0.5", 5 * 10**17),
    ("1", 10**18),
    ("1.", None),
    ("+0.5", 5 * 10**17),
    ("--0.5", 5 * 10**17),
    (".5", None),
    ("0.1234567890123456789", None),
    ("1_0", None),
    (" 1", None),
    ("1.2.3", None),
]
QUOTE = [('a"b', '"a\\"b"'), ("\n\t\x00\x7f", '"\\n\\t\\x00\\x7f"'), ("é", '"é"'), ("\u2028", '"\\u2028"'), ("😀", '"😀"'),
         ("\xa0", '"\\u00a0"')]
TIME = [
    (0, "1970-01-01 00:00:00 +0000 UTC"),
    (1_700_000_000_500_000_000, "2023-11-14 22:13:20.5 +0000 UTC"),
    (-1_000_000_001, "1969-12-31 23:59:58.999999999 +0000 UTC"),
]
BECH32 = [
    ("gonka1xyz", "invalid separator index 5"),
    ("abc", "invalid bech32 string length 3"),
    ("Gonka1abcdefgh", "string not all lowercase or all uppercase"),
    ("gonka1 xyzabcd", "invalid character in string: ' '"),
    ("gonka1bqqqqqqqq", "invalid character not part of charset: 98"),
    ("1qqqqqqqq", "invalid separator index 0"),
    ("gonka14em32q47rp7yzp85hpvsmrxlch5wn4aa6lpy7q", "invalid checksum (expected 6lpy7l got 6lpy7q)"),
]


@pytest.mark.parametrize(("text", "want"), BIG_INT)
def test_parse_big_int_is_math_int_unmarshal(text, want):
    if isinstance(want, int):
        assert parse_big_int(text) == want
    else:
        with pytest.raises(GoError) as e:
            parse_big_int(text)
        assert str(e.value) == want


@pytest.mark.parametrize(("text", "want"), LEGACY_DEC)
def test_parse_legacy_dec_is_legacy_new_dec_from_str(text, want):
    assert parse_legacy_dec(text) == want


@pytest.mark.parametrize(("text", "want"), QUOTE)
def test_go_quote_is_strconv_quote(text, want):
    assert go_quote(text) == want


@pytest.mark.parametrize(("ns", "want"), TIME)
def test_go_time_is_time_string(ns, want):
    assert go_time(ns) == want


@pytest.mark.parametrize(("text", "why"), BECH32)
def test_bech32_decode_errors_are_btcutils(text, why):
    with pytest.raises(GoError) as e:
        bech32_decode(text)
    assert str(e.value) == f"decoding bech32 failed: {why}"
    assert (e.value.codespace, e.value.code) == ("undefined", 1)


def test_address_codec_and_acc_address_differ_as_in_the_sdk():
    """Bech32Codec.StringToBytes reports another prefix as ErrLogic (sdk 35); AccAddressFromBech32 as a plain error."""
    cosmos = "cosmos1qypqxpq9qcrsszg2pvxq6rs0zqg3yyc5lzv7xu"  # bytes 1..20
    assert len(codec_address(ADDRESS, "gonka")) == 20
    assert codec_address(ADDRESS.upper(), "gonka") == codec_address(ADDRESS, "gonka")
    with pytest.raises(GoError) as e:
        codec_address(cosmos, "gonka")
    assert (e.value.codespace, e.value.code) == ("sdk", 35)
    assert str(e.value) == "hrp does not match bech32 prefix: expected 'gonka' got 'cosmos': internal logic error"
    with pytest.raises(GoError) as e:
        acc_address(cosmos, "gonka")
    assert (e.value.codespace, e.value.code) == ("undefined", 1)
    assert str(e.value) == "invalid Bech32 prefix; expected gonka, got cosmos"
    for check in (codec_address, acc_address):
        with pytest.raises(GoError, match="^empty address string is not allowed$"):
            check(" \u3000", "gonka")
