/// The body both this server and nginx return in `make bench-http` (bench/nginx.conf.template has the same bytes).
enum BenchBody {
    static let json = #"{"status":"success","message":"1 record(s) found.","data":{"results":[{"contact_id":1,"contact_unique_id":"l-7Q2M9X4K1B","contact_first_name":"John","contact_last_name":"Doe","contact_email":"johndoe@example.com","contact_phone":"15551234567","contact_created_date":"2021-01-01 00:00:00"}],"next_after":null}}"#
}
