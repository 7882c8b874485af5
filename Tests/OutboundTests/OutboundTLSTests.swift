import Foundation
import Glibc
import Outbound
import Reactor
import TestSupport
import XCTest

/// HTTPS certificates are verified (API.md §11): a receiver whose certificate no trusted
/// authority signed (a self-signed one, `Fixtures/`, made for this test only) is not sent to.
final class OutboundTLSTests: XCTestCase {
    func testASelfSignedCertificateIsRefused() async throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
        let port = try FreePort.next()
        let script = """
            from http.server import BaseHTTPRequestHandler, HTTPServer
            from os import _exit
            from ssl import PROTOCOL_TLS_SERVER, SSLContext
            from sys import argv
            from threading import Timer
            Timer(30, _exit, [0]).start()  # gone in any case (a shim may keep it from our kill)
            class Handler(BaseHTTPRequestHandler):
                def do_POST(self):
                    print("REQUEST", flush=True)
                    self.send_response(204); self.end_headers()
            server = HTTPServer(("127.0.0.1", int(argv[1])), Handler)
            context = SSLContext(PROTOCOL_TLS_SERVER)
            context.load_cert_chain(argv[2], argv[3])
            server.socket = context.wrap_socket(server.socket, server_side=True)
            server.serve_forever()
            """
        let receiver = try ChildProcess.start("/usr/bin/env", [
            "python3", "-c", script, String(port), fixtures.appendingPathComponent("self-signed-cert.pem").path,
            fixtures.appendingPathComponent("self-signed-key.pem").path,
        ])
        // SIGKILL, not SIGTERM (which a child of the test process may have blocked), on every way out.
        do {
            try waitUntil("the TLS receiver listens on \(port)", timeout: .seconds(10)) { (try? RawHTTPClient(port: port)) != nil }
            let loop = EventLoop(name: "tls-test")
            let client = OutboundHTTPClient(loop: loop)
            do {
                let response = try await client.send(OutboundRequest(url: "https://127.0.0.1:\(port)/hook", body: Array("{}".utf8),
                                                                     timeout: .seconds(5)))
                XCTFail("a self-signed certificate was accepted: \(response.status)")
            } catch let error as OutboundError {
                XCTAssertEqual(error.code, 60, "CURLE_PEER_FAILED_VERIFICATION, got \(error)")
            }
            await client.shutdown()
            loop.shutdown()
        } catch {
            receiver.kill(SIGKILL)
            _ = receiver.wait()
            throw error
        }
        receiver.kill(SIGKILL)
        XCTAssertFalse(receiver.wait().standardOutput.contains("REQUEST"), "nothing was sent to it")
    }
}
