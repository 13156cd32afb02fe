import Testing

@testable import OutriggerCore

@Suite("YAML composer over libyaml")
struct YAMLComposerTests {
    @Test func composesMappingsSequencesAndPositions() throws {
        let root = try #require(try YAMLComposer.compose("a: 1\nlist:\n  - x\n  - 'y'\n"))
        let pairs = try #require(root.mapping)
        #expect(pairs.map { $0.key.scalar?.string } == ["a", "list"])
        #expect(pairs[0].value.scalar?.string == "1")
        #expect(pairs[0].value.mark == YAMLMark(line: 1, column: 4))
        let items = try #require(pairs[1].value.sequence)
        #expect(items.map { $0.scalar?.string } == ["x", "y"])
        #expect(items[0].scalar?.style == .plain)
        #expect(items[1].scalar?.style == .quoted)
        #expect(items[1].mark == YAMLMark(line: 4, column: 5))
    }

    @Test func resolvesAliases() throws {
        let root = try #require(try YAMLComposer.compose("base: &b {x: 1}\ncopy: *b\n"))
        let copy = try #require(root.mapping?[1].value.mapping)
        #expect(copy.first?.key.scalar?.string == "x")
        #expect(copy.first?.value.scalar?.string == "1")
    }

    @Test func anEmptyDocumentIsNil() throws {
        #expect(try YAMLComposer.compose("") == nil)
        #expect(try YAMLComposer.compose("# only a comment\n") == nil)
    }

    @Test func refusesDuplicateKeysAtTheFirstOne() {
        #expect(throws: YAMLSyntaxError.self) { try YAMLComposer.compose("b: 1\na: 2\nb: 3\n") }
        do {
            _ = try YAMLComposer.compose("x:\n  b: 1\n  a: 2\n  b: 3\n  a: 4\n")
            Issue.record("duplicate keys were accepted")
        } catch {
            #expect(error.message.hasPrefix("duplicate key 'a', 'b'"))
            #expect(error.mark == YAMLMark(line: 3, column: 3))
        }
    }

    @Test func reportsSyntaxErrorsWhereLibyamlFindsThem() {
        do {
            _ = try YAMLComposer.compose("a: [1, 2\nb: 3\n")
            Issue.record("a broken flow sequence was accepted")
        } catch {
            #expect(error.message == "while parsing a flow sequence did not find expected ',' or ']'")
            #expect(error.mark?.line == 2)
        }
    }

    @Test func refusesASecondDocumentAndUndefinedAliases() {
        #expect(throws: YAMLSyntaxError.self) { try YAMLComposer.compose("a: 1\n---\nb: 2\n") }
        #expect(throws: YAMLSyntaxError.self) { try YAMLComposer.compose("a: *nowhere\n") }
    }
}
