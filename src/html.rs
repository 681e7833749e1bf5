//! HTML to plain text (stub).
/// Reduces HTML to text: tags removed (block tags separate words), entities decoded once.
pub fn html_to_text(s: &str) -> String {
    s.to_string()
}
