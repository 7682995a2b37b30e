"""The My Number (個人番号) check digit: 11 digits + 1 check digit.

Official algorithm (総務省令第85号, 平成26年 第5条): with P_n the n-th of the first
11 digits counted from the right (P_1 is the digit just left of the check digit)
and Q_n = n + 1 for 1 <= n <= 6, n - 5 for 7 <= n <= 11, let r = sum(P_n * Q_n) % 11;
the check digit is 0 when r <= 1, else 11 - r.
"""


def my_number_check_digit(first11: str) -> int:
    assert len(first11) == 11 and first11.isdigit(), first11
    total = 0
    for n, ch in enumerate(reversed(first11), 1):
        total += int(ch) * (n + 1 if n <= 6 else n - 5)
    r = total % 11
    return 0 if r <= 1 else 11 - r


def my_number_ok(digits: str) -> bool:
    return (len(digits) == 12 and digits.isdigit()
            and my_number_check_digit(digits[:11]) == int(digits[11]))
