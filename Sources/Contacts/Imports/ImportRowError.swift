import Codecs
import Postgres

/// One rejected row of an import, as `GET …/imports/{import_id}/errors` writes it (API.md §12):
/// `{"row": N, "code": …, "parameter": …, "message": …}`, with the code and message the
/// single-contact API answers for the same fault. A row refused while staging carries its
/// ``APIError`` already; one refused while applying carries the write function's outcome, which
/// the API's own mapping (``ContactsAPI/refusal(for:)``) turns into the error.
struct ImportRowError {
    let row: Int64
    let code: String
    let parameter: String?
    let message: String

    /// Reads `row_no, outcome, contact_id, to_json(parameter), code, message`.
    init(row: PostgresRow) throws {
        self.row = try row.decode(Int64.self, column: 0)
        if let code = try row.decode(String?.self, column: 4) {
            self.code = code
            // A staging refusal's parameter is stored as the API names it, or NULL.
            parameter = try row.decode(String?.self, column: 3).flatMap { try? FlatJSONObject.parseString(Array($0.utf8)) }
            message = try row.decode(String?.self, column: 5) ?? ""
            return
        }
        let outcome = try ContactStore.outcome(try row.decode(ContactOutcome.self, column: 1),
                                               contactID: try row.decode(Int64?.self, column: 2),
                                               payload: try row.decode(String?.self, column: 3))
        let error = ContactsAPI.refusal(for: outcome) ?? .internal
        code = error.code.rawValue
        parameter = error.parameter
        message = error.message
    }

    /// One NDJSON line, its newline included.
    func write(to out: inout [UInt8]) {
        JSONWriter.append(to: &out) { writer in
            writer.beginObject()
            writer.key("row")
            writer.number(row)
            writer.key("code")
            writer.string(code)
            writer.key("parameter")
            if let parameter { writer.string(parameter) } else { writer.null() }
            writer.key("message")
            writer.string(message)
            writer.endObject()
        }
        out.append(UInt8(ascii: "\n"))
    }
}
