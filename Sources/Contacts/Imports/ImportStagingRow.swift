/// One row of `import_rows` (sql/016) in `COPY`'s text format: the row's values as the API's
/// validation left them (``ContactOperation``), or its refusal. Columns, in order: listing_id
/// (sql/018: on Citus it picks the shard), import_id, row_no, contact_id, first_name, last_name,
/// email, phone, ip_address, error_code, error_parameter, error_message. A value not given is
/// `\N` (NULL); one given empty (a `PUT` clearing it) is the empty string.
enum ImportStagingRow {
    /// The `COPY` statement these rows are written for.
    static let copyStatement = """
        COPY import_rows (listing_id, import_id, row_no, contact_id, first_name, last_name, email, phone, ip_address, \
        error_code, error_parameter, error_message) FROM STDIN
        """

    /// A row that passed validation.
    static func append(listing: Int64, importID: Int64, row: Int, operation: ContactOperation, to out: inout [UInt8]) {
        switch operation {
        case .create(let firstName, let lastName, let email, let phone, let ipAddress):
            append(listing, importID, row, [nil, firstName, lastName, email, phone, ipAddress, nil, nil, nil], to: &out)
        case .upsert(let id, let firstName, let lastName, let email, let phone, let ipAddress, let ipGiven):
            append(listing, importID, row, [id.map(String.init), text(firstName), text(lastName), text(email), text(phone),
                                            ipGiven ? ipAddress : nil, nil, nil, nil], to: &out)
        case .delete, .search:
            preconditionFailure("an import row is a create or an upsert")
        }
    }

    /// A row refused before it reached the database: its error as the API would answer it.
    static func append(listing: Int64, importID: Int64, row: Int, error: APIError, to out: inout [UInt8]) {
        append(listing, importID, row, [nil, nil, nil, nil, nil, nil, error.code.rawValue, error.parameter, error.message], to: &out)
    }

    private static func text(_ field: FieldInput) -> String? {
        switch field {
        case .absent: nil
        case .cleared: ""
        case .value(let value): value
        }
    }

    private static func append(_ listing: Int64, _ importID: Int64, _ row: Int, _ values: [String?], to out: inout [UInt8]) {
        out.append(contentsOf: String(listing).utf8)
        out.append(tab)
        out.append(contentsOf: String(importID).utf8)
        out.append(tab)
        out.append(contentsOf: String(row).utf8)
        for value in values {
            out.append(tab)
            guard let value else {
                out.append(contentsOf: [backslash, UInt8(ascii: "N")])
                continue
            }
            for byte in value.utf8 {
                switch byte {
                case backslash: out.append(contentsOf: [backslash, backslash])
                case tab: out.append(contentsOf: [backslash, UInt8(ascii: "t")])
                case newline: out.append(contentsOf: [backslash, UInt8(ascii: "n")])
                case carriageReturn: out.append(contentsOf: [backslash, UInt8(ascii: "r")])
                default: out.append(byte)
                }
            }
        }
        out.append(newline)
    }

    private static let tab = UInt8(ascii: "\t")
    private static let newline = UInt8(ascii: "\n")
    private static let carriageReturn = UInt8(ascii: "\r")
    private static let backslash = UInt8(ascii: "\\")
}
