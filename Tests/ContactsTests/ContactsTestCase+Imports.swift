import Contacts
import Foundation
import TestSupport
import XCTest

/// Uploading files and reading imports back, for the import and export tests.
extension ContactsTestCase {
    /// Uploads `text` as an import of `listing` (CSV unless `contentType` says otherwise).
    @discardableResult
    func upload(_ listing: Int64, _ text: String, mode: String? = nil, key: APIKey? = nil, contentType: String = "text/csv",
                headers: [(String, String)] = []) throws -> RawHTTPClient.Response {
        let target = "/crm/\(listing)/imports" + (mode.map { "?mode=\($0)" } ?? "")
        return try call("POST", target, key: key ?? keyFor(listing), body: .raw(contentType: contentType, bytes: Array(text.utf8)),
                        headers: headers)
    }

    /// The `data.import` of an answer.
    func importData(_ response: RawHTTPClient.Response) -> [String: Any] {
        (data(response)["import"] as? [String: Any]) ?? [:]
    }

    /// Uploads `text` and waits until the import has finished; returns its final `data.import`.
    func imported(_ listing: Int64, _ text: String, mode: String? = nil, contentType: String = "text/csv",
                  file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let response = try upload(listing, text, mode: mode, contentType: contentType)
        XCTAssertEqual(response.status, 202, response.bodyText, file: file, line: line)
        let id = importData(response)["import_id"] as? Int ?? 0
        XCTAssertEqual(response.header("Location"), "/crm/\(listing)/imports/\(id)", file: file, line: line)
        return try finishedImport(listing, id)
    }

    /// Polls the import until it is completed or failed.
    func finishedImport(_ listing: Int64, _ id: Int, timeout: Duration = .seconds(60)) throws -> [String: Any] {
        var state: [String: Any] = [:]
        try waitUntil("import \(id) finishes", timeout: timeout) {
            state = importData(try call("GET", "/crm/\(listing)/imports/\(id)", key: keyFor(listing)))
            return ["completed", "failed"].contains(state["status"] as? String ?? "")
        }
        return state
    }

    /// The import's rejected rows, as the errors endpoint writes them.
    func importErrors(_ listing: Int64, _ id: Int) throws -> [[String: Any]] {
        let response = try call("GET", "/crm/\(listing)/imports/\(id)/errors", key: keyFor(listing))
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.header("Content-Type"), "application/x-ndjson; charset=utf-8")
        return response.bodyText.split(separator: "\n").map {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] ?? ["unparsed": String($0)]
        }
    }

    /// Jobs and staged rows of `listing`, straight from the database.
    func importFootprint() throws -> String {
        try textRows("SELECT (SELECT count(*) FROM import_jobs) || ' jobs, ' || (SELECT count(*) FROM import_rows) || ' staged'")[0]
    }
}
