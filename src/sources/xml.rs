//! Small helpers over roxmltree for the adapters that read namespaced elements feed-rs does not
//! keep (arXiv's `arxiv:` extensions, `dc:identifier`, `prism:doi`). roxmltree refuses DTDs,
//! so entity-expansion and external-entity documents are errors, never expanded. Large pages
//! are read a child of the root at a time ([`split`]): a whole 5,000-entry arXiv API page as
//! one document tree took five times its 9 MB. Pure.

use std::ops::Range;

use roxmltree::{Document, Node};

/// The Atom namespace.
pub(crate) const ATOM: &str = "http://www.w3.org/2005/Atom";
/// arXiv's namespace for its Atom and RSS extensions.
pub(crate) const ARXIV: &str = "http://arxiv.org/schemas/atom";

/// Parses XML text, or says why not.
pub(crate) fn parse(text: &str) -> Result<Document<'_>, String> {
    Document::parse(text).map_err(|e| e.to_string())
}

/// A document as its root element's start tag and the places of the root's child elements,
/// so that each child is parsed on its own ([`Split::child`]), wrapped in the root's start tag
/// (whose namespace declarations it may use) and end tag.
pub(crate) struct Split<'a> {
    text: &'a str,
    /// The root's start tag, as written.
    open: &'a str,
    /// The root's end tag (empty for a root written as an empty element).
    close: String,
    /// Each child element of the root: its local name and where it is in `text`.
    children: Vec<(String, Range<usize>)>,
}

/// A reader's error, with where in the text it stopped.
fn at_byte(error: &quick_xml::Error, reader: &quick_xml::Reader<&[u8]>) -> String {
    format!("{error} at byte {}", reader.error_position())
}

/// Splits XML text into its root and the root's child elements, or says why it is not XML
/// (malformed markup, a DTD, a document that ends before its root does).
pub(crate) fn split(text: &str) -> Result<Split<'_>, String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    // The root's start tag and its end tag.
    let mut open: Option<(&str, String)> = None;
    let mut children = Vec::new();
    let at = |reader: &quick_xml::Reader<&[u8]>| {
        usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX)
    };
    // Events end at ASCII markup, so these are always within the text and on a character.
    let slice = |range: Range<usize>| text.get(range).ok_or("a tag ends inside a character");
    loop {
        let before = at(&reader);
        let event = reader.read_event().map_err(|e| at_byte(&e, &reader))?;
        match event {
            Event::DocType(_) => return Err("a DTD, which paperboy does not read".into()),
            Event::Start(e) if open.is_none() => {
                let close = format!("</{}>", String::from_utf8_lossy(e.name().as_ref()));
                open = Some((slice(before..at(&reader))?, close));
            }
            Event::Empty(_) if open.is_none() => {
                open = Some((slice(before..at(&reader))?, String::new()));
                break;
            }
            Event::Start(e) => {
                let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                let name = e.name().as_ref().to_vec();
                reader
                    .read_to_end(quick_xml::name::QName(&name))
                    .map_err(|e| at_byte(&e, &reader))?;
                children.push((local, before..at(&reader)));
            }
            Event::Empty(e) => {
                let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                children.push((local, before..at(&reader)));
            }
            Event::End(_) => break,
            Event::Eof => return Err("the document ends before its root element does".into()),
            _ => {}
        }
    }
    // After the root: comments, processing instructions and white space only.
    loop {
        match reader.read_event().map_err(|e| at_byte(&e, &reader))? {
            Event::Eof => break,
            Event::Comment(_) | Event::PI(_) => {}
            Event::Text(t) if t.iter().all(u8::is_ascii_whitespace) => {}
            _ => return Err("content after the root element".into()),
        }
    }
    let (open, close) = open.ok_or("no root element")?;
    Ok(Split {
        text,
        open,
        close,
        children,
    })
}

impl Split<'_> {
    /// `f` of the root element alone (its children left out), or why it is not XML.
    pub(crate) fn root<T>(&self, f: impl FnOnce(Node<'_, '_>) -> T) -> Result<T, String> {
        let text = [self.open, &self.close].concat();
        Ok(f(parse(&text)?.root_element()))
    }

    /// The places of the root's child elements with this local name.
    pub(crate) fn named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = usize> + 's {
        self.children
            .iter()
            .enumerate()
            .filter(move |(_, (local, _))| local == name)
            .map(|(i, _)| i)
    }

    /// The root's start tag, as written (with the namespaces its children may use).
    pub(crate) fn open_tag(&self) -> &str {
        self.open
    }

    /// Child `i`, as written.
    pub(crate) fn raw(&self, i: usize) -> Option<&str> {
        self.children
            .get(i)
            .and_then(|(_, range)| self.text.get(range.clone()))
    }

    /// `f` of child `i`, parsed on its own in the root's start and end tags, or why it is not
    /// XML.
    pub(crate) fn child<T>(
        &self,
        i: usize,
        f: impl FnOnce(Node<'_, '_>) -> T,
    ) -> Result<T, String> {
        let child = self.raw(i).ok_or("no such element")?;
        let text = [self.open, child, &self.close].concat();
        let doc = parse(&text)?;
        let child = doc
            .root_element()
            .first_element_child()
            .ok_or("an element that is not one")?;
        Ok(f(child))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<String> {
        let split = split(text).unwrap();
        (0..split.children.len())
            .map(|i| split.child(i, |c| c.tag_name().name().to_string()).unwrap())
            .collect()
    }

    #[test]
    fn a_root_s_children_are_read_one_at_a_time_with_its_namespaces() {
        let text = r#"<?xml version="1.0"?><!-- a feed -->
            <f:feed xmlns:f="urn:f" xmlns:x="urn:x">
              <f:title>t</f:title>
              <f:entry><x:note><![CDATA[<f:entry>not one</f:entry>]]></x:note></f:entry>
              <!-- <f:entry>nor this</f:entry> -->
              <f:entry/>
            </f:feed>"#;
        assert_eq!(names(text), ["title", "entry", "entry"]);
        let split = split(text).unwrap();
        assert_eq!(split.named("entry").collect::<Vec<_>>(), [1, 2]);
        let note = split
            .child(1, |entry| {
                let note = entry.first_element_child().unwrap();
                (
                    note.tag_name().namespace().map(str::to_string),
                    text_of(note),
                )
            })
            .unwrap();
        assert_eq!(
            note,
            (
                Some("urn:x".to_string()),
                Some("<f:entry>not one</f:entry>".into())
            )
        );
        assert_eq!(
            split
                .root(|r| r.tag_name().namespace().map(str::to_string))
                .unwrap(),
            Some("urn:f".to_string())
        );
        // A root with nothing in it.
        let empty = split_root_name("<feed xmlns='urn:f'/>");
        assert_eq!(empty, "feed");
    }

    fn split_root_name(text: &str) -> String {
        let split = split(text).unwrap();
        assert!(split.children.is_empty());
        split.root(|r| r.tag_name().name().to_string()).unwrap()
    }

    #[test]
    fn broken_documents_and_dtds_are_errors() {
        for text in [
            "<feed><entry></feed>",
            "<feed><entry>cut short",
            "<feed>",
            "",
            "<feed/><feed/>",
            "<feed></feed>text",
            "<!DOCTYPE feed [<!ENTITY a \"aaaa\">]><feed>&a;</feed>",
        ] {
            assert!(split(text).is_err(), "{text:?}");
        }
        // An entry whose own markup is wrong is an error when it is read.
        let split = split("<feed><entry a='1' a='2'/></feed>").unwrap();
        assert!(split.child(0, |_| ()).is_err());
    }
}
