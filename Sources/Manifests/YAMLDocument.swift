internal import CYaml

/// A position in a source file, 1-based, as editors and compilers print it.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `FILE:LINE:COLUMN`; just `FILE` for a problem with the file as a whole (line 0).
    public var description: String { line > 0 ? "\(file):\(line):\(column)" : file }
}

/// A YAML node with the position it came from. Aliases are resolved to the anchored node.
struct YAMLNode: Sendable {
    enum Content: Sendable {
        case scalar(String, plain: Bool, tag: String?)
        case sequence([YAMLNode])
        case mapping([(key: YAMLNode, value: YAMLNode)])
    }

    var content: Content
    var line: Int
    var column: Int
    /// Nodes in this subtree with every alias expanded: what a reader walking it would visit.
    var expandedSize: Int
}

/// Limits that keep hostile input (alias bombs, deep nesting, huge files) cheap to reject.
public struct ManifestLimits: Sendable {
    /// Largest file (or stdin) accepted.
    public var maxFileBytes = 8 * 1024 * 1024
    /// Deepest nesting of mappings and sequences.
    public var maxDepth = 64
    /// Nodes per document as written (a large plain manifest, a List, stops here).
    public var maxNodes = 1_000_000
    /// Nodes aliases repeat in one document, beyond those written ("billion laughs" stops here).
    public var maxExpandedNodes = 100_000
    /// Documents per file.
    public var maxDocuments = 10_000

    public init() {}
}

/// Errors found while reading YAML text, before any schema applies.
struct YAMLSyntaxError: Error {
    var line: Int
    var column: Int
    var message: String
}

/// Composes YAML documents from libyaml's event stream without recursion, so nesting depth and
/// alias expansion are checked as the parser goes rather than after the damage is done.
struct YAMLComposer {
    let limits: ManifestLimits

    func documents(from bytes: [UInt8]) throws(YAMLSyntaxError) -> [YAMLNode?] {
        if let (line, column) = Self.firstInvalidUTF8(in: bytes) {
            throw YAMLSyntaxError(line: line, column: column, message: "invalid UTF-8 byte sequence: manifests must be UTF-8 text")
        }
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            throw YAMLSyntaxError(line: 1, column: 1, message: "could not initialise the YAML parser")
        }
        defer { yaml_parser_delete(&parser) }
        return try bytes.withUnsafeBufferPointer { (buffer) throws(YAMLSyntaxError) -> [YAMLNode?] in
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            return try compose(&parser)
        }
    }

    private struct Frame {
        var isMapping: Bool
        var line: Int
        var column: Int
        var anchor: String?
        var items: [YAMLNode] = []
        var size = 1
    }

    private func compose(_ parser: inout yaml_parser_t) throws(YAMLSyntaxError) -> [YAMLNode?] {
        var documents: [YAMLNode?] = []
        var stack: [Frame] = []
        var anchors: [String: YAMLNode] = [:]
        var documentRoot: YAMLNode?
        // Nodes as written, and with what aliases repeat.
        var written = 0
        var expanded = 0

        /// One more node as written: its limit, and the alias limit if aliases pushed it over.
        func count(_ line: Int, _ column: Int) throws(YAMLSyntaxError) {
            written += 1
            expanded += 1
            if written > limits.maxNodes {
                throw YAMLSyntaxError(
                    line: line, column: column,
                    message: "document has more than \(limits.maxNodes) nodes (the limit for one document): split it into several documents or files")
            }
        }

        func add(_ node: YAMLNode, anchor: String?) throws(YAMLSyntaxError) {
            if let anchor { anchors[anchor] = node }
            if stack.isEmpty {
                documentRoot = node
            } else {
                stack[stack.count - 1].items.append(node)
                stack[stack.count - 1].size += node.expandedSize
            }
        }

        while true {
            var event = yaml_event_t()
            guard yaml_parser_parse(&parser, &event) == 1 else {
                var error = Self.parserError(parser)
                // libyaml's scanner reads flow collections ahead and has its own (higher) limit.
                if error.message.contains("Maximum nesting level") {
                    error.message = "nesting deeper than \(limits.maxDepth) levels"
                }
                throw error
            }
            defer { yaml_event_delete(&event) }
            let line = Int(event.start_mark.line) + 1
            let column = Int(event.start_mark.column) + 1

            switch event.type {
            case YAML_STREAM_END_EVENT:
                return documents
            case YAML_DOCUMENT_START_EVENT:
                if documents.count >= limits.maxDocuments {
                    throw YAMLSyntaxError(line: line, column: column, message: "more than \(limits.maxDocuments) documents in one file")
                }
                anchors = [:]
                documentRoot = nil
                written = 0
                expanded = 0
            case YAML_DOCUMENT_END_EVENT:
                documents.append(documentRoot)
            case YAML_SCALAR_EVENT:
                try count(line, column)
                let scalar = event.data.scalar
                let value = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
                let node = YAMLNode(
                    content: .scalar(value, plain: scalar.style == YAML_PLAIN_SCALAR_STYLE, tag: Self.string(scalar.tag)),
                    line: line, column: column, expandedSize: 1
                )
                try add(node, anchor: Self.string(scalar.anchor))
            case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                if stack.count >= limits.maxDepth {
                    throw YAMLSyntaxError(line: line, column: column, message: "nesting deeper than \(limits.maxDepth) levels")
                }
                try count(line, column)
                let isMapping = event.type == YAML_MAPPING_START_EVENT
                let anchor = isMapping ? Self.string(event.data.mapping_start.anchor) : Self.string(event.data.sequence_start.anchor)
                stack.append(Frame(isMapping: isMapping, line: line, column: column, anchor: anchor))
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                let frame = stack.removeLast()
                let content: YAMLNode.Content
                if frame.isMapping {
                    var pairs: [(key: YAMLNode, value: YAMLNode)] = []
                    pairs.reserveCapacity(frame.items.count / 2)
                    var i = 0
                    while i + 1 < frame.items.count {
                        pairs.append((frame.items[i], frame.items[i + 1]))
                        i += 2
                    }
                    content = .mapping(pairs)
                } else {
                    content = .sequence(frame.items)
                }
                try add(YAMLNode(content: content, line: frame.line, column: frame.column, expandedSize: frame.size), anchor: frame.anchor)
            case YAML_ALIAS_EVENT:
                let name = Self.string(event.data.alias.anchor) ?? ""
                guard let target = anchors[name] else {
                    throw YAMLSyntaxError(line: line, column: column, message: "unknown alias *\(name)")
                }
                expanded += target.expandedSize
                if expanded - written > limits.maxExpandedNodes { throw aliasBomb(line, column) }
                var node = target
                node.line = line
                node.column = column
                try add(node, anchor: nil)
            default:
                break
            }
        }
    }

    private func aliasBomb(_ line: Int, _ column: Int) -> YAMLSyntaxError {
        YAMLSyntaxError(
            line: line, column: column,
            message: "document's aliases repeat more than \(limits.maxExpandedNodes) nodes; refusing it as a possible alias bomb")
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let pointer else { return nil }
        return String(cString: pointer)
    }

    private static func parserError(_ parser: yaml_parser_t) -> YAMLSyntaxError {
        let problem = parser.problem.map { String(cString: $0) } ?? "invalid YAML"
        let context = parser.context.map { String(cString: $0) }
        let mark = parser.problem_mark
        let message = context.map { "\(problem) \($0)" } ?? problem
        return YAMLSyntaxError(line: Int(mark.line) + 1, column: Int(mark.column) + 1, message: message)
    }

    /// Where the first byte that is not valid UTF-8 sits, as line and column, or nil.
    static func firstInvalidUTF8(in bytes: [UInt8]) -> (Int, Int)? {
        var line = 1
        var lineStart = 0
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b < 0x80 {
                if b == 0x0A {
                    line += 1
                    lineStart = i + 1
                }
                i += 1
                continue
            }
            let length: Int
            let minimum: UInt32
            if b & 0xE0 == 0xC0 {
                length = 2
                minimum = 0x80
            } else if b & 0xF0 == 0xE0 {
                length = 3
                minimum = 0x800
            } else if b & 0xF8 == 0xF0 {
                length = 4
                minimum = 0x10000
            } else {
                return (line, i - lineStart + 1)
            }
            guard i + length <= bytes.count else { return (line, i - lineStart + 1) }
            var scalar = UInt32(b) & (0xFF >> (length + 1))
            for k in 1..<length {
                let c = bytes[i + k]
                guard c & 0xC0 == 0x80 else { return (line, i - lineStart + 1) }
                scalar = scalar << 6 | UInt32(c & 0x3F)
            }
            if scalar < minimum || scalar > 0x10FFFF || (0xD800...0xDFFF).contains(scalar) {
                return (line, i - lineStart + 1)
            }
            i += length
        }
        return nil
    }
}
