//! Naive (timezone-less, UTC by convention) timestamps as Raiden's Python services read and write
//! them: the `timestamp` of a `PFSFeeUpdate` and of an IOU request.
//!
//! Reading follows marshmallow 3.18's `NaiveDateTime` field exactly, which matches
//! `(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,6})\d{0,6})?)?(Z|[+-]\d{2}(?::?\d{2})?)?$`
//! and then builds a Python `datetime`: `T` or a space between date and time, seconds optional,
//! one to twelve fraction digits of which the first six count (right-padded with zeros), and any
//! `Z` or offset rejected because the field is naive. Like Python's `$`, a single trailing `\n` is
//! tolerated. One deliberate narrowing: only ASCII digits are accepted (Python's `\d` also matches
//! other Unicode decimal digits, which no client sends).
//!
//! Writing is Python's `datetime.isoformat()`: `YYYY-MM-DDTHH:MM:SS`, plus `.ffffff` (always six
//! digits) when the microseconds are not zero. That is the string the reference PFS re-creates
//! before checking a fee update's signature.

use std::fmt;

/// A calendar date and time of day with microsecond precision and no timezone.
///
/// Invariants (those of Python's `datetime`): year 1–9999, a valid month and day, hour < 24,
/// minute < 60, second < 60, microsecond < 10^6. Ordering is chronological.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NaiveTimestamp {
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    microsecond: u32,
}

/// Why a string is not an acceptable naive timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    /// The text does not follow the ISO 8601 grammar accepted by marshmallow.
    #[error("not a valid ISO 8601 datetime: {0:?}")]
    NotIsoFormat(String),
    /// The text carries `Z` or a UTC offset; Raiden's timestamps are naive.
    #[error("timestamp must not carry a timezone: {0:?}")]
    TimezoneNotAllowed(String),
    /// The fields are out of range (month 13, February 30, hour 24, year 0, …).
    #[error("datetime field out of range: {0:?}")]
    OutOfRange(String),
}

/// Longest input echoed back in an error message.
const MAX_ECHOED_CHARS: usize = 40;

fn echo(text: &str) -> String {
    text.chars().take(MAX_ECHOED_CHARS).collect()
}

/// Microseconds in a day.
const MICROS_PER_DAY: i64 = 86_400_000_000;

impl NaiveTimestamp {
    /// The reference PFS's initial "last fee update" time for every channel direction.
    pub const EPOCH_2000: Self =
        Self { year: 2000, month: 1, day: 1, hour: 0, minute: 0, second: 0, microsecond: 0 };

    /// Builds a timestamp from its fields.
    ///
    /// # Errors
    /// [`TimestampError::OutOfRange`] if they violate the type's invariants.
    pub fn new(
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
        microsecond: u32,
    ) -> Result<Self, TimestampError> {
        let valid = (1..=9999).contains(&year)
            && (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month)
            && hour < 24
            && minute < 60
            && second < 60
            && microsecond < 1_000_000;
        if valid {
            Ok(Self { year, month, day, hour, minute, second, microsecond })
        } else {
            Err(TimestampError::OutOfRange(format!(
                "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{microsecond:06}"
            )))
        }
    }

    /// Parses `text` with marshmallow's `NaiveDateTime` grammar (see the module docs).
    ///
    /// # Errors
    /// [`TimestampError`] saying why the text is not acceptable; never panics.
    ///
    /// # Examples
    /// ```
    /// use pfs_core::timestamp::NaiveTimestamp;
    ///
    /// let parsed = NaiveTimestamp::parse("2022-10-01 12:00:00.000000").unwrap();
    /// assert_eq!(parsed.to_isoformat(), "2022-10-01T12:00:00");
    /// assert!(NaiveTimestamp::parse("2022-10-01T12:00:00Z").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        let not_iso = || TimestampError::NotIsoFormat(echo(text));
        // Python's `$` also matches just before a final newline.
        let body = text.strip_suffix('\n').unwrap_or(text);
        let mut cursor = Cursor { rest: body.as_bytes() };
        let year = cursor.digits(4, 4).ok_or_else(not_iso)?;
        cursor.literal(b"-").ok_or_else(not_iso)?;
        let month = cursor.digits(1, 2).ok_or_else(not_iso)?;
        cursor.literal(b"-").ok_or_else(not_iso)?;
        let day = cursor.digits(1, 2).ok_or_else(not_iso)?;
        cursor.literal(b"T ").ok_or_else(not_iso)?;
        let hour = cursor.digits(1, 2).ok_or_else(not_iso)?;
        cursor.literal(b":").ok_or_else(not_iso)?;
        let minute = cursor.digits(1, 2).ok_or_else(not_iso)?;
        let mut second = 0;
        let mut microsecond = 0;
        if cursor.literal(b":").is_some() {
            second = cursor.digits(1, 2).ok_or_else(not_iso)?;
            if cursor.literal(b".").is_some() {
                let fraction = cursor.digit_run(12).ok_or_else(not_iso)?;
                // The first six digits are the microseconds (right-padded); the rest is dropped.
                let significant = &fraction[..fraction.len().min(6)];
                microsecond =
                    significant.iter().fold(0u32, |value, digit| value * 10 + u32::from(digit - b'0'));
                microsecond *= 10u32.pow(6 - significant.len() as u32);
            }
        }
        if !cursor.rest.is_empty() {
            return Err(if is_timezone(cursor.rest) {
                TimestampError::TimezoneNotAllowed(echo(text))
            } else {
                not_iso()
            });
        }
        let narrow = |value: u32| u8::try_from(value).map_err(|_| not_iso());
        Self::new(
            u16::try_from(year).map_err(|_| not_iso())?,
            narrow(month)?,
            narrow(day)?,
            narrow(hour)?,
            narrow(minute)?,
            narrow(second)?,
            microsecond,
        )
        .map_err(|_| TimestampError::OutOfRange(echo(text)))
    }

    /// Python's `datetime.isoformat()`: `YYYY-MM-DDTHH:MM:SS`, with `.ffffff` appended only when
    /// the microseconds are not zero.
    pub fn to_isoformat(&self) -> String {
        let Self { year, month, day, hour, minute, second, microsecond } = *self;
        if microsecond == 0 {
            format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}")
        } else {
            format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{microsecond:06}")
        }
    }

    /// Microseconds since 1970-01-01T00:00:00 (negative before it).
    pub fn unix_micros(&self) -> i64 {
        let days = days_from_civil(i64::from(self.year), i64::from(self.month), i64::from(self.day));
        let seconds_of_day =
            i64::from(self.hour) * 3600 + i64::from(self.minute) * 60 + i64::from(self.second);
        days * MICROS_PER_DAY + seconds_of_day * 1_000_000 + i64::from(self.microsecond)
    }

    /// The timestamp `micros` microseconds after 1970-01-01T00:00:00, if it lies in years 1–9999.
    pub fn from_unix_micros(micros: i64) -> Option<Self> {
        let days = micros.div_euclid(MICROS_PER_DAY);
        let micros_of_day = micros.rem_euclid(MICROS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        let seconds_of_day = micros_of_day / 1_000_000;
        Self::new(
            u16::try_from(year).ok()?,
            month,
            day,
            (seconds_of_day / 3600) as u8,
            (seconds_of_day / 60 % 60) as u8,
            (seconds_of_day % 60) as u8,
            (micros_of_day % 1_000_000) as u32,
        )
        .ok()
    }
}

impl fmt::Display for NaiveTimestamp {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.to_isoformat())
    }
}

impl fmt::Debug for NaiveTimestamp {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "NaiveTimestamp({})", self.to_isoformat())
    }
}

impl std::str::FromStr for NaiveTimestamp {
    type Err = TimestampError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

/// A forward-only reader over ASCII bytes for the timestamp grammar.
struct Cursor<'a> {
    rest: &'a [u8],
}

impl Cursor<'_> {
    /// Consumes one byte from `choices`.
    fn literal(&mut self, choices: &[u8]) -> Option<()> {
        let (&first, rest) = self.rest.split_first()?;
        choices.contains(&first).then(|| self.rest = rest)
    }

    /// Consumes between `min` and `max` ASCII digits (greedy) and returns their value.
    fn digits(&mut self, min: usize, max: usize) -> Option<u32> {
        let count = self.rest.iter().take(max).take_while(|byte| byte.is_ascii_digit()).count();
        if count < min {
            return None;
        }
        let (digits, rest) = self.rest.split_at(count);
        self.rest = rest;
        Some(digits.iter().fold(0, |value, digit| value * 10 + u32::from(digit - b'0')))
    }

    /// Consumes one to `max` ASCII digits (greedy) and returns them.
    fn digit_run(&mut self, max: usize) -> Option<&[u8]> {
        let count = self.rest.iter().take(max).take_while(|byte| byte.is_ascii_digit()).count();
        if count == 0 {
            return None;
        }
        let (digits, rest) = self.rest.split_at(count);
        self.rest = rest;
        Some(digits)
    }
}

/// Whether `rest` is exactly marshmallow's timezone group `Z|[+-]\d{2}(?::?\d{2})?`.
fn is_timezone(rest: &[u8]) -> bool {
    let digit = |index: usize| rest.get(index).is_some_and(u8::is_ascii_digit);
    match rest {
        b"Z" => true,
        [b'+' | b'-', ..] => match rest.len() {
            3 => digit(1) && digit(2),
            5 => (1..5).all(digit),
            6 => digit(1) && digit(2) && rest[3] == b':' && digit(4) && digit(5),
            _ => false,
        },
        _ => false,
    }
}

fn is_leap_year(year: u16) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date `days` after 1970-01-01 (inverse of [`days_from_civil`]).
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u8;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 } as u8;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(text: &str) -> String {
        NaiveTimestamp::parse(text).unwrap().to_isoformat()
    }

    #[test]
    fn isoformat_drops_zero_microseconds_like_python() {
        assert_eq!(iso("2022-10-01T12:00:00.000000"), "2022-10-01T12:00:00");
        assert_eq!(iso("2022-10-01T12:00:00.123456"), "2022-10-01T12:00:00.123456");
        assert_eq!(iso("2022-10-01T12:00:00.5"), "2022-10-01T12:00:00.500000");
    }

    #[test]
    fn space_separator_short_fields_and_missing_seconds_are_accepted() {
        assert_eq!(iso("2022-10-01 12:00:00"), "2022-10-01T12:00:00");
        assert_eq!(iso("2022-1-2T3:4:5"), "2022-01-02T03:04:05");
        assert_eq!(iso("2022-10-01T12:30"), "2022-10-01T12:30:00");
    }

    #[test]
    fn fraction_digits_beyond_six_are_truncated_up_to_twelve() {
        assert_eq!(iso("2022-10-01T12:00:00.123456789012"), "2022-10-01T12:00:00.123456");
        assert!(matches!(
            NaiveTimestamp::parse("2022-10-01T12:00:00.1234567890123"),
            Err(TimestampError::NotIsoFormat(_))
        ));
    }

    #[test]
    fn timezones_are_rejected() {
        for text in [
            "2022-10-01T12:00:00Z",
            "2022-10-01T12:00:00+00:00",
            "2022-10-01T12:00:00-0130",
            "2022-10-01T12:00+02",
        ] {
            assert!(
                matches!(NaiveTimestamp::parse(text), Err(TimestampError::TimezoneNotAllowed(_))),
                "{text}"
            );
        }
    }

    #[test]
    fn a_single_trailing_newline_is_tolerated_like_python_dollar() {
        assert_eq!(iso("2022-10-01T12:00:00\n"), "2022-10-01T12:00:00");
        assert!(NaiveTimestamp::parse("2022-10-01T12:00:00\n\n").is_err());
    }

    #[test]
    fn malformed_and_out_of_range_texts_are_errors() {
        for text in [
            "",
            "2022-10-01",
            "22-10-01T12:00",
            "2022-10-01T12",
            "2022-10-01X12:00",
            "2022-10-01T12:00:",
            "2022-10-01T12:00:00.",
            "٢٠٢٢-10-01T12:00",
        ] {
            assert!(matches!(NaiveTimestamp::parse(text), Err(TimestampError::NotIsoFormat(_))), "{text}");
        }
        for text in [
            "2022-13-01T00:00",
            "2022-02-29T00:00",
            "2022-10-01T24:00",
            "0000-01-01T00:00",
            "2022-10-01T12:60",
            "2022-10-01T12:00:60",
        ] {
            assert!(matches!(NaiveTimestamp::parse(text), Err(TimestampError::OutOfRange(_))), "{text}");
        }
        assert!(NaiveTimestamp::parse("2024-02-29T00:00").is_ok());
    }

    #[test]
    fn ordering_is_chronological() {
        let earlier = NaiveTimestamp::parse("2022-10-01T12:00:00").unwrap();
        let later = NaiveTimestamp::parse("2022-10-01T12:00:00.000001").unwrap();
        assert!(earlier < later);
        assert!(NaiveTimestamp::EPOCH_2000 < earlier);
    }

    #[test]
    fn unix_micros_round_trip_known_values() {
        let timestamp = NaiveTimestamp::parse("2022-10-01T12:00:00.123456").unwrap();
        assert_eq!(timestamp.unix_micros(), 1_664_625_600_123_456);
        assert_eq!(NaiveTimestamp::from_unix_micros(1_664_625_600_123_456), Some(timestamp));
        assert_eq!(NaiveTimestamp::parse("1970-01-01T00:00").unwrap().unix_micros(), 0);
        assert_eq!(
            NaiveTimestamp::from_unix_micros(-1).unwrap().to_isoformat(),
            "1969-12-31T23:59:59.999999"
        );
        assert_eq!(NaiveTimestamp::from_unix_micros(i64::MAX), None);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in ".{0,40}") {
            let _ = NaiveTimestamp::parse(&text);
        }

        #[test]
        fn isoformat_parses_back_to_the_same_value(micros in -62_135_596_800_000_000i64..253_402_300_799_999_999i64) {
            let timestamp = NaiveTimestamp::from_unix_micros(micros).unwrap();
            proptest::prop_assert_eq!(timestamp.unix_micros(), micros);
            proptest::prop_assert_eq!(NaiveTimestamp::parse(&timestamp.to_isoformat()), Ok(timestamp));
        }
    }
}
