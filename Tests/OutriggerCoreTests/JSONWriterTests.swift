import Testing

@testable import OutriggerCore

@Suite("Admin JSON writer")
struct JSONWriterTests {
    struct Inner: Encodable {
        var ratio: Double
        var whole: Double
        var missing: String?
    }

    struct Outer: Encodable {
        var name: String
        var count: Int
        var on: Bool
        var items: [Int]
        var empty: [String]
        var inner: Inner
        var map: [String: Int]
    }

    @Test func writesSortedPrettyJSONAsFoundationDid() throws {
        let value = Outer(
            name: "a\"b", count: 3, on: true, items: [1, 2], empty: [],
            inner: Inner(ratio: 0.25, whole: 2, missing: nil), map: ["z": 1, "a": 2])
        let expected = """
            {
              "count" : 3,
              "empty" : [

              ],
              "inner" : {
                "ratio" : 0.25,
                "whole" : 2
              },
              "items" : [
                1,
                2
              ],
              "map" : {
                "a" : 2,
                "z" : 1
              },
              "name" : "a\\"b",
              "on" : true
            }
            """
        #expect(try JSONWriter.encode(value) == expected)
    }
}
