// A campaign step's content compiled once (Mustache, hummingbird-project/swift-mustache) and
// rendered per lead at import time. Text parts (SMS text, subject, WhatsApp parameters) render
// without HTML escaping; the HTML body escapes. A variable the lead does not have is an error at
// import, not an empty string at send time: every variable tag outside a section must be
// given (inside a section, names refer to the section's value and are not checked).
import Foundation
import LeaddProtocol
import Mustache

public struct TemplateError: Error, Equatable, CustomStringConvertible {
    /// The template field at fault, like `template.text` or `template.whatsapp.params.1`.
    public var field: String
    public var reason: String

    public var description: String { "\(field): \(reason)" }
}

public struct StepTemplate: Sendable {
    struct Part: Sendable {
        var field: String
        var template: MustacheTemplate
        var variables: [String]
    }

    let text: Part?
    let subject: Part?
    let html: Part?
    let whatsapp: (name: String, language: String, params: [Part])?

    public init(_ source: MessageTemplate, field: String = "template") throws(TemplateError) {
        text = try source.text.map { s throws(TemplateError) in try Self.part(s, field: field + ".text", html: false) }
        subject = try source.subject.map { s throws(TemplateError) in
            try Self.part(s, field: field + ".subject", html: false)
        }
        html = try source.html.map { s throws(TemplateError) in try Self.part(s, field: field + ".html", html: true) }
        if let w = source.whatsapp {
            var params: [Part] = []
            for (i, p) in w.params.enumerated() {
                params.append(try Self.part(p, field: "\(field).whatsapp.params.\(i)", html: false))
            }
            whatsapp = (w.name, w.language, params)
        } else {
            whatsapp = nil
        }
    }

    static func part(_ source: String, field: String, html: Bool) throws(TemplateError) -> Part {
        do {
            let template = try MustacheTemplate(string: (html ? "" : "{{% CONTENT_TYPE:TEXT}}") + source)
            return Part(field: field, template: template, variables: variables(in: source))
        } catch {
            throw TemplateError(field: field, reason: "not a valid Mustache template: \(error)")
        }
    }

    /// Names of the variable tags outside sections, in order of appearance.
    static func variables(in source: String) -> [String] {
        var names: [String] = []
        var depth = 0
        var rest = Substring(source)
        while let open = rest.range(of: "{{") {
            rest = rest[open.upperBound...]
            guard let close = rest.range(of: "}}") else { break }
            var tag = rest[..<close.lowerBound].trimmingWhitespace()
            rest = rest[close.upperBound...]
            if rest.hasPrefix("}") { rest = rest.dropFirst() }
            guard let sigil = tag.first else { continue }
            switch sigil {
            case "#", "^": depth += 1
            case "/": depth = max(depth - 1, 0)
            case "!", ">", "%", "=": continue
            default:
                if sigil == "&" || sigil == "{" { tag = String(tag.dropFirst()).trimmingWhitespace() }
                if depth == 0 && !tag.isEmpty && tag != "." && !names.contains(tag) { names.append(tag) }
            }
        }
        return names
    }

    /// The message content (JSON object text) for one lead; `context` holds the lead's fields
    /// and variables as strings, nested for dotted names.
    public func render(_ context: [String: Any]) throws(TemplateError) -> String {
        var content = JSONObject()
        func render(_ part: Part) throws(TemplateError) -> String {
            for name in part.variables where Self.lookup(name, in: context) == nil {
                throw TemplateError(field: part.field, reason: "the lead has no variable '\(name)'")
            }
            return part.template.render(context)
        }
        if let text { content["text"] = .string(try render(text)) }
        if let subject { content["subject"] = .string(try render(subject)) }
        if let html { content["html"] = .string(try render(html)) }
        if let whatsapp {
            var params: [JSONValue] = []
            for p in whatsapp.params { params.append(.string(try render(p))) }
            content["template"] = .object(
                JSONObject([
                    "name": .string(whatsapp.name), "language": .string(whatsapp.language), "params": .array(params),
                ]))
        }
        return JSONValue.object(content).serialized
    }

    static func lookup(_ name: String, in context: [String: Any]) -> Any? {
        var current: Any? = context
        for component in name.split(separator: ".") {
            guard let dictionary = current as? [String: Any] else { return nil }
            current = dictionary[String(component)]
        }
        return current
    }
}
