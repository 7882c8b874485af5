import Codecs
import XCTest

final class ASCIITests: XCTestCase {
    func testHexValueAcceptsTheTwentyTwoHexDigitsAndNothingElse() {
        let digits = Array("0123456789abcdef".utf8)
        for byte in UInt8.min...UInt8.max {
            let lower = Character(Unicode.Scalar(byte)).lowercased().utf8.first ?? byte
            let expected = byte < 0x80 ? digits.firstIndex(of: lower).map(UInt8.init) : nil
            XCTAssertEqual(ASCII.hexValue(byte), expected, "byte \(byte)")
        }
    }

    func testHexDigitsAreLowerCaseZeroPaddedToTheWidthAndNeverCut() {
        XCTAssertEqual(ASCII.hexDigits(of: 0, width: 16), "0000000000000000")
        XCTAssertEqual(ASCII.hexDigits(of: 0x2028, width: 4), "2028")
        XCTAssertEqual(ASCII.hexDigits(of: 0x1f, width: 4), "001f")
        XCTAssertEqual(ASCII.hexDigits(of: 0xABCDEF, width: 1), "abcdef")
        XCTAssertEqual(ASCII.hexDigits(of: 0, width: 1), "0")
        XCTAssertEqual(ASCII.hexDigits(of: UInt64.max, width: 4), "ffffffffffffffff")
        XCTAssertEqual(ASCII.hexDigits(of: 1 << 63, width: 16), "8000000000000000")
        var bytes = Array("x".utf8)
        ASCII.appendHexDigits(of: 0xa, width: 2, to: &bytes)
        ASCII.appendHexDigits(of: 0x1b, width: 20, to: &bytes)
        XCTAssertEqual(String(decoding: bytes, as: UTF8.self), "x0a" + String(repeating: "0", count: 18) + "1b")
        for value: UInt64 in [0, 1, 15, 16, 255, 4096, 0xdead_beef, UInt64.max / 3] {
            XCTAssertEqual(ASCII.hexDigits(of: value, width: 1), String(value, radix: 16))
        }
    }

    func testDecimalsMatchStringIncludingTheExtremes() {
        for value: Int64 in [0, 7, -7, 10, -10, 99, 100, 1_234_567_890, Int64.max, Int64.min, Int64.min + 1] {
            var bytes: [UInt8] = []
            ASCII.appendDecimal(value, to: &bytes)
            XCTAssertEqual(String(decoding: bytes, as: UTF8.self), String(value))
        }
    }

    func testZeroPaddingFillsToTheWidthAndKeepsLongerNumbersWhole() {
        XCTAssertEqual(ASCII.zeroPadded(5, width: 2), "05")
        XCTAssertEqual(ASCII.zeroPadded(2026, width: 4), "2026")
        XCTAssertEqual(ASCII.zeroPadded(12345, width: 4), "12345")
        XCTAssertEqual(ASCII.zeroPadded(Int64(42), width: 6), "000042")
        XCTAssertEqual(ASCII.zeroPadded(0, width: 3), "000")
        XCTAssertEqual(ASCII.zeroPadded(-5, width: 4), "00-5", "the sign stays after the zeros, as String padding put it")
        XCTAssertEqual(ASCII.zeroPadded(-248, width: 4), "-248")
        var bytes: [UInt8] = []
        ASCII.appendZeroPadded(7, width: 3, to: &bytes)
        ASCII.appendZeroPadded(999, width: 3, to: &bytes)
        XCTAssertEqual(String(decoding: bytes, as: UTF8.self), "007999")
    }
}
