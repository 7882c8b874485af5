import Codecs
import FoundationEssentials

/// Conversion between `Date` and PostgreSQL's ISO timestamp text, independent of the session's
/// `TimeZone` setting: the offset the server prints is honoured when parsing.
enum PostgresTimestamp {
    /// `2026-11-29 19:30:00.123456+00`.
    static func format(_ date: Date) -> String {
        // Beyond ±292,000 years (or NaN) there is no Int64 microsecond count; PostgreSQL's own
        // words for "later/earlier than any date" are the honest rendering.
        guard let totalMicros = Int64(exactly: (date.timeIntervalSince1970 * 1_000_000).rounded()) else {
            return date.timeIntervalSince1970 < 0 ? "-infinity" : "infinity"
        }
        let (days, microsOfDay) = totalMicros.floorDivided(by: 86_400_000_000)
        let (year, month, day) = civil(fromDays: days)
        let seconds = microsOfDay / 1_000_000
        let micros = microsOfDay % 1_000_000
        return "\(ASCII.zeroPadded(year, width: 4))-\(ASCII.zeroPadded(month, width: 2))-\(ASCII.zeroPadded(day, width: 2)) "
            + "\(ASCII.zeroPadded(seconds / 3600, width: 2)):\(ASCII.zeroPadded(seconds / 60 % 60, width: 2)):"
            + "\(ASCII.zeroPadded(seconds % 60, width: 2)).\(ASCII.zeroPadded(micros, width: 6))+00"
    }

    /// Parses `YYYY-MM-DD[ HH:MM:SS[.ffffff]][±HH[:MM[:SS]]]`; a missing offset means UTC.
    static func parse(_ text: ArraySlice<UInt8>) -> Date? {
        var scanner = DigitScanner(text: text)
        guard let year = scanner.number(digits: 4), scanner.skip("-"),
              let month = scanner.number(digits: 2), scanner.skip("-"),
              let day = scanner.number(digits: 2), (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        var micros: Int64 = 0
        if scanner.skip(" ") || scanner.skip("T") {
            guard let hour = scanner.number(digits: 2), scanner.skip(":"),
                  let minute = scanner.number(digits: 2), scanner.skip(":"),
                  let second = scanner.number(digits: 2)
            else { return nil }
            micros = (hour * 3600 + minute * 60 + second) * 1_000_000
            if scanner.skip(".") {
                var scale: Int64 = 100_000
                var sawDigit = false
                while let digit = scanner.digit() {
                    micros += digit * scale
                    scale /= 10
                    sawDigit = true
                }
                guard sawDigit else { return nil }
            }
            if let sign = scanner.sign() {
                guard let offsetHours = scanner.number(digits: 2) else { return nil }
                var offset = offsetHours * 3600
                if scanner.skip(":") {
                    guard let offsetMinutes = scanner.number(digits: 2) else { return nil }
                    offset += offsetMinutes * 60
                    if scanner.skip(":") {
                        guard let offsetSeconds = scanner.number(digits: 2) else { return nil }
                        offset += offsetSeconds
                    }
                }
                micros -= sign * offset * 1_000_000
            }
        }
        guard scanner.atEnd else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let total = days * 86_400_000_000 + micros
        return Date(timeIntervalSince1970: Double(total) / 1_000_000)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

private struct DigitScanner {
    let text: ArraySlice<UInt8>
    var index: Int

    init(text: ArraySlice<UInt8>) {
        self.text = text
        index = text.startIndex
    }

    var atEnd: Bool { index == text.endIndex }

    mutating func digit() -> Int64? {
        guard index < text.endIndex else { return nil }
        let value = text[index] &- UInt8(ascii: "0")
        guard value < 10 else { return nil }
        index += 1
        return Int64(value)
    }

    mutating func number(digits count: Int) -> Int64? {
        var value: Int64 = 0
        for _ in 0..<count {
            guard let next = digit() else { return nil }
            value = value * 10 + next
        }
        return value
    }

    mutating func skip(_ character: Unicode.Scalar) -> Bool {
        guard index < text.endIndex, text[index] == UInt8(character.value) else { return false }
        index += 1
        return true
    }

    mutating func sign() -> Int64? {
        if skip("+") { return 1 }
        if skip("-") { return -1 }
        return nil
    }
}

extension Int64 {
    /// Division rounding towards negative infinity, with a non-negative remainder.
    func floorDivided(by divisor: Int64) -> (quotient: Int64, remainder: Int64) {
        let quotient = self / divisor
        let remainder = self % divisor
        return remainder < 0 ? (quotient - 1, remainder + divisor) : (quotient, remainder)
    }
}
