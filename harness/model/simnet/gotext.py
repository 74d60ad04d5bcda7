"""Go's text rules, where simnet must read or write text exactly as the chain's Go code does:

- `go_quote`: strconv.Quote (what `%q` prints);
- `parse_big_int`: math/big's Int.UnmarshalText, which is how `math.Int` decodes a coin amount from a
  transaction: base prefixes (`0x10`, `0b11`, `0o7`, and a leading `0` for octal: `010` is 8), `_` between
  digits (`1_0` is 10), an optional sign; then the SDK's 256-bit limit;
- `parse_legacy_dec`: `math.LegacyNewDecFromStr` (vote weights);
- `go_time`: time.Time.String() of a UTC instant;
- `bech32_decode`, `codec_address`, `acc_address`: bech32 as the SDK's address codec
  (`Bech32Codec.StringToBytes`) and `sdk.AccAddressFromBech32` decode it, with their error texts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

MAX_INT_BITS = 256  # math.Int's MaxBitLen
LEGACY_PRECISION = 18
_LEGACY_LIMIT = 2**256 * 10**18 - 1  # LegacyDec's upper limit, in units of 10^-18
_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


class GoError(ValueError):
    """A Go error: `str(e)` is its Error() text. `codespace`/`code` are set when the SDK registered it."""

    def __init__(self, text: str, codespace: str = "undefined", code: int = 1) -> None:
        super().__init__(text)
        self.codespace, self.code = codespace, code


def go_quote(text: str) -> str:
    """strconv.Quote: printable runes kept, `"` and `\\` escaped, the rest as \\a..\\v, \\xHH, \\uHHHH or \\UHHHHHHHH."""
    out = ['"']
    for ch in text:
        n = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch == " " or (ch.isprintable() and not 0xD800 <= n <= 0xDFFF):
            out.append(ch)
        elif n < 0x20 or n == 0x7F:
            out.append(f"\\x{n:02x}")
        elif n < 0x10000:
            out.append(f"\\u{n:04x}")
        else:
            out.append(f"\\U{n:08x}")
    return "".join(out) + '"'


# -- math/big: Int.UnmarshalText (base 0) -------------------------------------------------------------------
def _digit(ch: int) -> int:
    if 48 <= ch <= 57:
        return ch - 48
    if 97 <= ch <= 122:
        return ch - 97 + 10
    if 65 <= ch <= 90:
        return ch - 65 + 10
    return 99


def _scan_prefix(data: bytes, i: int) -> tuple[int, int, str, bool]:
    """(base, position after the prefix, prefix, a '0' was read): math/big's base-0 prefix rule."""
    if i < len(data) and data[i] == 48:  # '0'
        if i + 1 >= len(data):
            return 10, i, "", True
        prefix = {98: "b", 66: "b", 111: "o", 79: "o", 120: "x", 88: "x"}.get(data[i + 1], "0")
        base = {"b": 2, "o": 8, "x": 16, "0": 8}[prefix]
        return base, i + 1 if prefix == "0" else i + 2, prefix, True
    return 10, i, "", False


def _scan_nat(data: bytes, i: int) -> tuple[int, str, int] | None:
    """(value digits as text, base, position where the number ends); None when math/big refuses the text."""
    base, i, prefix, zero_read = _scan_prefix(data, i)
    prev, inval_sep, digits = ("0" if zero_read else "."), False, []
    while i < len(data):
        ch = data[i]
        if ch == 95:  # '_' (allowed in base 0 only between digits or after a prefix)
            inval_sep = inval_sep or prev != "0"
            prev = "_"
        elif _digit(ch) < base:
            prev = "0"
            digits.append(chr(ch))
        else:
            break
        i += 1
    if inval_sep or prev == "_":
        return None
    if not digits:
        if prefix == "0" or (zero_read and not prefix):
            return "0", 10, i
        return None
    return "".join(digits), base, i


def _to_int(digits: str, base: int) -> int:
    if base != 10 or len(digits) <= 4000:
        return int(digits, base)
    value = 0  # beyond Python's default limit on decimal digits: convert in chunks
    for k in range(0, len(digits), 4000):
        chunk = digits[k : k + 4000]
        value = value * 10 ** len(chunk) + int(chunk)
    return value


def parse_big_int(text: str) -> int:
    """A coin amount as `math.Int` unmarshals it; GoError with Go's text when it does not decode."""
    data = text.encode("utf-8", "surrogatepass")
    i, negative = 0, False
    if data[:1] in (b"+", b"-"):
        negative, i = data[:1] == b"-", 1
    scanned = _scan_nat(data, i)
    if scanned is None or scanned[2] != len(data):
        raise GoError(f"math/big: cannot unmarshal {go_quote(text)} into a *big.Int")
    value = _to_int(scanned[0], scanned[1])
    if value.bit_length() > MAX_INT_BITS:
        raise GoError(f"integer out of range; got: {value.bit_length()}, max: {MAX_INT_BITS}")
    return -value if negative else value


# -- math.LegacyNewDecFromStr ---------------------------------------------------------------------------------
def _big_int_base10(text: str) -> int | None:
    """big.Int.SetString(text, 10): an optional sign and ASCII digits."""
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body or not body.isascii() or not body.isdigit():
        return None
    return -int(body) if text.startswith("-") else int(body)


def parse_legacy_dec(text: str) -> int | None:
    """The decimal as an integer of 10^-18 units, or None where LegacyNewDecFromStr returns an error."""
    negative = text.startswith("-")
    body = text[1:] if negative else text
    if not body:
        return None
    parts = body.split(".")
    if len(parts) > 2:
        return None
    whole, frac = parts[0], parts[1] if len(parts) == 2 else ""
    if len(parts) == 2 and (not frac or not whole):
        return None
    if len(frac) > LEGACY_PRECISION:
        return None
    combined = _big_int_base10(whole + frac + "0" * (LEGACY_PRECISION - len(frac)))
    if combined is None:
        return None
    value = -combined if negative else combined
    return value if abs(value) <= _LEGACY_LIMIT else None


# -- time.Time.String() -----------------------------------------------------------------------------------------
def go_time(ns: int) -> str:
    """time.Time.String() of a UTC instant given in Unix nanoseconds: '2026-01-02 03:04:05.5 +0000 UTC'."""
    seconds, nanos = divmod(ns, 10**9)
    try:
        t = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    except OverflowError:
        return f"{ns} ns since 1970-01-01 UTC (beyond the years 1-9999 simnet formats)"
    frac = f".{nanos:09d}".rstrip("0") if nanos else ""
    return f"{t.year:04d}-{t:%m-%d %H:%M:%S}{frac} +0000 UTC"


# -- bech32 (github.com/cosmos/btcutil/bech32 with a 1023-character limit) -------------------------------------
def _polymod(hrp: bytes, values: list[int], checksum: list[int] | None) -> int:
    chk = 1

    def step(v: int) -> None:
        nonlocal chk
        b = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            if (b >> i) & 1:
                chk ^= _GEN[i]

    for c in hrp:
        step(c >> 5)
    step(0)
    for c in hrp:
        step(c & 31)
    for v in values:
        step(v)
    for v in checksum if checksum is not None else [0] * 6:
        step(v)
    return chk


def _convert_bits(data: list[int]) -> bytes:
    """ConvertBits(data, 5, 8, false)."""
    out, acc, bits = bytearray(), 0, 0
    for v in data:
        acc, bits = (acc << 5) | v, bits + 5
        if bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 0xFF)
    if bits and (bits > 4 or acc & ((1 << bits) - 1)):
        raise GoError("decoding bech32 failed: invalid incomplete group")
    return bytes(out)


def bech32_decode(text: str) -> tuple[str, bytes]:
    """(hrp, data bytes) as bech32.DecodeAndConvert returns them; GoError 'decoding bech32 failed: ...' otherwise."""
    raw = text.encode("utf-8", "surrogatepass")

    def fail(reason: str) -> GoError:
        return GoError(f"decoding bech32 failed: {reason}")

    if len(raw) > 1023 or len(raw) < 8:
        raise fail(f"invalid bech32 string length {len(raw)}")
    lower = upper = False
    for b in raw:  # bech32.Normalize: one pass, the first problem wins
        if b < 33 or b > 126:
            raise fail(f"invalid character in string: '{chr(b)}'")
        lower, upper = lower or 97 <= b <= 122, upper or 65 <= b <= 90
        if lower and upper:
            raise fail("string not all lowercase or all uppercase")
    raw = raw.lower()
    one = raw.rfind(b"1")
    if one < 1 or one + 7 > len(raw):
        raise fail(f"invalid separator index {one}")
    hrp, data = raw[:one], raw[one + 1 :]
    bad = next((c for c in data if chr(c) not in _CHARSET), None)
    if bad is not None:
        raise fail(f"invalid character not part of charset: {bad}")
    values = [_CHARSET.index(chr(c)) for c in data]
    if _polymod(hrp, values[:-6], values[-6:]) != 1:
        poly = _polymod(hrp, values[:-6], None) ^ 1
        expected = "".join(_CHARSET[(poly >> (5 * (5 - i))) & 31] for i in range(6))
        raise fail(f"invalid checksum (expected {expected} got {data[-6:].decode()})")
    return hrp.decode(), _convert_bits(values[:-6])


def _verify_format(bz: bytes) -> None:
    """sdk.VerifyAddressFormat (no custom verifier): sdk 9 unknown address."""
    if not bz:
        raise GoError("addresses cannot be empty: unknown address", "sdk", 9)
    if len(bz) > 255:
        raise GoError(f"address max length is 255, got {len(bz)}: unknown address", "sdk", 9)


def codec_address(text: str, prefix: str) -> bytes:
    """The account address codec's StringToBytes (message signers, msg-server address fields)."""
    if not go_trim_space(text):
        raise GoError("empty address string is not allowed")
    hrp, bz = bech32_decode(text)
    if hrp != prefix:
        raise GoError(
            f"hrp does not match bech32 prefix: expected '{prefix}' got '{hrp}': internal logic error", "sdk", 35
        )
    _verify_format(bz)
    return bz


def acc_address(text: str, prefix: str) -> bytes:
    """sdk.AccAddressFromBech32 (tx ValidateBasic's fee payer, the inference module's ValidateBasic)."""
    if not go_trim_space(text):
        raise GoError("empty address string is not allowed")
    hrp, bz = bech32_decode(text)
    if hrp != prefix:
        raise GoError(f"invalid Bech32 prefix; expected {prefix}, got {hrp}")
    _verify_format(bz)
    return bz


GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B)) + "\u2028\u2029\u202f\u205f\u3000"


def go_trim_space(text: str) -> str:
    """strings.TrimSpace: Unicode white space as Go's unicode.IsSpace defines it (not Python's \\x1c-\\x1f)."""
    return text.strip(GO_SPACE)
