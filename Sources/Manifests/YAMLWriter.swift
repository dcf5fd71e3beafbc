public import ModelplaneAPI
import Yams

/// Renders JSON values as YAML (keys sorted, block style), for `-o yaml` and the generated CRD.
public enum YAMLWriter {
    public static func render(_ value: JSONValue) -> String {
        // Serializing a tree of plain nodes cannot fail; Yams only throws on emitter misuse.
        (try? Yams.serialize(node: node(value), indent: 2, width: -1, allowUnicode: true, sortKeys: true)) ?? ""
    }

    public static func render(documents: [JSONValue]) -> String {
        documents.map(render).joined(separator: "---\n")
    }

    private static func node(_ value: JSONValue) -> Node {
        switch value {
        case .null: return Node("null", Tag(.null))
        case .bool(let b): return Node(b ? "true" : "false", Tag(.bool))
        case .int(let i): return Node(String(i), Tag(.int))
        case .double(let d): return Node(d.isNaN ? ".nan" : d.isInfinite ? (d > 0 ? ".inf" : "-.inf") : "\(d)", Tag(.float))
        case .string(let s):
            // Quote strings a YAML reader would take for another type ("3", "true", "null", "yes").
            let style: Node.Scalar.Style = YAMLStringStyle.needsQuotes(s) ? .doubleQuoted : .any
            return Node(s, Tag(.str), style)
        case .array(let items): return Node(items.map(node))
        case .object(let members): return Node(members.keys.sorted().map { (Node($0), node(members[$0]!)) })
        }
    }
}

enum YAMLStringStyle {
    static func needsQuotes(_ s: String) -> Bool {
        guard case .string = LocatedJSON.resolve(s, plain: true, tag: nil) else { return true }
        // YAML 1.1 readers (PyYAML, go-yaml v2) take 2026-11-27… for a timestamp.
        let digits = Array(s.utf8.prefix(10))
        return digits.count == 10 && digits[4] == UInt8(ascii: "-") && digits[7] == UInt8(ascii: "-")
            && [0, 1, 2, 3, 5, 6, 8, 9].allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(digits[$0]) }
    }
}
