//! Small helpers over roxmltree for the adapters that read namespaced elements feed-rs does not
//! keep (arXiv's `arxiv:` extensions, `dc:identifier`, `prism:doi`). roxmltree refuses DTDs,
//! so entity-expansion and external-entity documents are errors, never expanded. Pure.

use roxmltree::{Document, Node};

/// The Atom namespace.
pub(crate) const ATOM: &str = "http://www.w3.org/2005/Atom";
/// arXiv's namespace for its Atom and RSS extensions.
pub(crate) const ARXIV: &str = "http://arxiv.org/schemas/atom";

/// Parses XML text, or says why not.
pub(crate) fn parse(text: &str) -> Result<Document<'_>, String> {
    Document::parse(text).map_err(|e| e.to_string())
}

/// The element children of `node` with this local name (any namespace).
pub(crate) fn children<'a, 'i>(
    node: Node<'a, 'i>,
    name: &'a str,
) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

/// The first element child with this local name and namespace.
pub(crate) fn child_ns<'a, 'i>(node: Node<'a, 'i>, ns: &str, name: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|c| {
        c.is_element() && c.tag_name().name() == name && c.tag_name().namespace() == Some(ns)
    })
}

/// The text of an element (all descendant text joined), trimmed; `None` when empty.
pub(crate) fn text_of(node: Node<'_, '_>) -> Option<String> {
    let text: String = node
        .descendants()
        .filter(roxmltree::Node::is_text)
        .filter_map(|d| d.text())
        .collect();
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// The text of the first child with this local name (any namespace).
pub(crate) fn child_text(node: Node<'_, '_>, name: &str) -> Option<String> {
    children(node, name).find_map(text_of)
}

/// The text of the first child with this local name and namespace.
pub(crate) fn child_text_ns(node: Node<'_, '_>, ns: &str, name: &str) -> Option<String> {
    child_ns(node, ns, name).and_then(text_of)
}

/// Every feed item or entry in the document: RSS `item`s (0.9x/1.0/2.0) and Atom `entry`s.
pub(crate) fn items<'a, 'i>(doc: &'a Document<'i>) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    doc.descendants()
        .filter(|n| n.is_element() && matches!(n.tag_name().name(), "item" | "entry"))
}
