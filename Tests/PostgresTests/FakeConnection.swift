/// What the pool's state machine tests lend and take back instead of a real connection: a
/// name to tell them apart.
final class FakeConnection {
    let name: String
    init(_ name: String) { self.name = name }
}
