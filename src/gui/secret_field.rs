//! The PIN and password fields: typed text that never enters a string egui keeps.
//!
//! egui's own text field keeps copies of what was typed in its undo history, which lives in
//! the context's memory for as long as the window does, and is never wiped. These fields keep
//! the typed bytes in one zeroizing buffer of fixed capacity (it never grows, so no copy is
//! left behind in a freed allocation), draw dots, and give screen readers a password field
//! with its label and the number of characters, never the characters.
//!
//! What no program can avoid: the keystrokes pass through the windowing system and egui's
//! per-frame input events before they reach the buffer.

use egui::{Event, Key, Response, Sense, Ui, Widget, WidgetInfo};
use zeroize::{Zeroize, Zeroizing};

use crate::secret::{Password, Pin, PinFormatError};

/// Most bytes a PIN field takes: a PIN has at most 8 digits (ISO 7816 format 2 blocks hold
/// 12); the rest is room for a person who pressed a key twice to see the dots grow.
pub const PIN_CAPACITY: usize = 16;

/// Most bytes a password field takes.
pub const PASSWORD_CAPACITY: usize = 256;

/// What was typed into a secret field: a zeroizing buffer that never reallocates.
pub struct SecretBuffer {
    bytes: Zeroizing<Vec<u8>>,
    capacity: usize,
}

impl SecretBuffer {
    /// An empty buffer holding at most `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        SecretBuffer {
            bytes: Zeroizing::new(Vec::with_capacity(capacity)),
            capacity,
        }
    }

    /// Appends what was typed, as much of it as fits (whole characters only); control
    /// characters are ignored. Returns whether anything was refused.
    pub fn push_str(&mut self, text: &str) -> bool {
        let mut refused = false;
        for c in text.chars().filter(|c| !c.is_control()) {
            let mut utf8 = [0u8; 4];
            let encoded = c.encode_utf8(&mut utf8).as_bytes();
            if self.bytes.len() + encoded.len() > self.capacity {
                refused = true;
                break;
            }
            self.bytes.extend_from_slice(encoded);
            utf8.zeroize();
        }
        refused
    }

    /// Removes the last character, wiping its bytes.
    pub fn pop(&mut self) {
        let Some(last) = self.last_char_start() else {
            return;
        };
        self.bytes[last..].zeroize();
        self.bytes.truncate(last);
    }

    fn last_char_start(&self) -> Option<usize> {
        (0..self.bytes.len())
            .rev()
            .find(|&i| (self.bytes[i] & 0b1100_0000) != 0b1000_0000)
    }

    /// Characters typed (what the dots show).
    pub fn chars(&self) -> usize {
        self.bytes
            .iter()
            .filter(|&&b| (b & 0b1100_0000) != 0b1000_0000)
            .count()
    }

    /// Nothing typed.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Wipes what was typed.
    pub fn clear(&mut self) {
        self.bytes.zeroize();
    }

    /// The typed PIN, taken out: the field is wiped whatever the outcome.
    pub fn take_pin(&mut self) -> Result<Pin, PinFormatError> {
        let typed = self.take_string();
        Pin::from_input(typed)
    }

    /// The typed password, taken out: the field is wiped.
    pub fn take_password(&mut self) -> Password {
        Password::from_input(self.take_string())
    }

    /// The bytes as a string for the secret types, which wipe it; the buffer is wiped here.
    fn take_string(&mut self) -> String {
        // Only whole characters of `&str`s were ever pushed, so the bytes are UTF-8.
        let typed = String::from_utf8(self.bytes.to_vec()).unwrap_or_default();
        self.clear();
        typed
    }
}

impl std::fmt::Debug for SecretBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretBuffer({} chars, REDACTED)", self.chars())
    }
}

/// A masked field over a [`SecretBuffer`]. Enter in it is reported by
/// [`SecretField::submitted`].
pub struct SecretField<'a> {
    buffer: &'a mut SecretBuffer,
    label: &'a str,
    digits_only: bool,
    width: f32,
    enabled: bool,
    labelled_by: Option<egui::Id>,
}

impl<'a> SecretField<'a> {
    /// A field named `label` (what a screen reader says, and what tests find it by).
    pub fn new(buffer: &'a mut SecretBuffer, label: &'a str) -> Self {
        SecretField {
            buffer,
            label,
            digits_only: false,
            width: 220.0,
            enabled: true,
            labelled_by: None,
        }
    }

    /// Takes digits only (a PIN).
    pub fn digits_only(mut self) -> Self {
        self.digits_only = true;
        self
    }

    /// Named by a label shown beside it (the label widget's id), as a screen reader expects
    /// of a form; without one the field carries its name itself.
    pub fn labelled_by(mut self, label: egui::Id) -> Self {
        self.labelled_by = Some(label);
        self
    }

    /// Greyed out and deaf to keys (while connecting).
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Whether Enter was pressed in the field shown as `response`.
    pub fn submitted(ui: &Ui, response: &Response) -> bool {
        response.has_focus() && ui.input(|i| i.key_pressed(Key::Enter))
    }

    fn take_keys(&mut self, ui: &Ui) {
        let events = ui.input(|i| i.events.clone());
        for event in events {
            match event {
                Event::Text(mut text) | Event::Paste(mut text) => {
                    if self.digits_only {
                        text.retain(|c| c.is_ascii_digit());
                    }
                    self.buffer.push_str(&text);
                    text.zeroize();
                }
                Event::Key {
                    key: Key::Backspace,
                    pressed: true,
                    ..
                } => self.buffer.pop(),
                _ => {}
            }
        }
    }
}

impl Widget for SecretField<'_> {
    fn ui(mut self, ui: &mut Ui) -> Response {
        let height = ui
            .spacing()
            .interact_size
            .y
            .max(ui.text_style_height(&egui::TextStyle::Body) + 8.0);
        let sense = if self.enabled {
            Sense::click() | Sense::FOCUSABLE
        } else {
            Sense::hover()
        };
        let (rect, mut response) = ui.allocate_exact_size(egui::vec2(self.width, height), sense);
        if response.clicked() {
            response.request_focus();
        }
        let before = self.buffer.chars();
        if self.enabled && response.has_focus() {
            self.take_keys(ui);
        }
        let after = self.buffer.chars();
        if after != before {
            response.mark_changed();
        }
        let visuals = if response.has_focus() {
            ui.visuals().widgets.active
        } else {
            *ui.style().interact(&response)
        };
        let painter = ui.painter_at(rect);
        painter.rect(
            rect,
            visuals.corner_radius,
            ui.visuals().extreme_bg_color,
            visuals.bg_stroke,
            egui::StrokeKind::Inside,
        );
        // Dots painted, not typed: no font needs a glyph for them.
        let radius = 4.0;
        for i in 0..after.min(40) {
            let x = rect.left() + 10.0 + i as f32 * (radius * 2.0 + 4.0);
            if x + radius > rect.right() {
                break;
            }
            painter.circle_filled(
                egui::pos2(x, rect.center().y),
                radius,
                ui.visuals().text_color(),
            );
        }
        let (label, enabled) = (self.label.to_string(), self.enabled);
        let own_label = self.labelled_by.is_none();
        response.widget_info(|| {
            let mut info = WidgetInfo::new(egui::Role::PasswordInput);
            info.enabled = enabled;
            info.label = own_label.then(|| label.clone());
            // A screen reader says how many characters, never which.
            info.current_text_value = Some("•".repeat(after));
            info
        });
        ui.ctx().accesskit_node_builder(response.id, |node| {
            node.set_role(egui::accesskit::Role::PasswordInput);
        });
        match self.labelled_by {
            Some(id) => response.labelled_by(id),
            None => response,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_backspace_and_taking_a_pin() {
        let mut b = SecretBuffer::new(PIN_CAPACITY);
        assert!(!b.push_str("1234"));
        b.pop();
        b.push_str("5");
        assert_eq!(b.chars(), 4);
        let pin = b.take_pin().unwrap();
        assert_eq!(pin.expose(), b"1235");
        assert!(b.is_empty(), "taking wipes the field");
    }

    #[test]
    fn the_buffer_never_grows_past_its_capacity() {
        let mut b = SecretBuffer::new(4);
        assert!(b.push_str("123456"));
        assert_eq!(b.chars(), 4);
        let before = b.bytes.capacity();
        b.push_str("9");
        assert_eq!(b.bytes.capacity(), before);
    }

    #[test]
    fn multibyte_characters_are_removed_whole() {
        let mut b = SecretBuffer::new(PASSWORD_CAPACITY);
        b.push_str("blåbær");
        assert_eq!(b.chars(), 6);
        b.pop();
        b.pop();
        assert_eq!(b.take_password().expose(), "blåb");
    }

    #[test]
    fn control_characters_are_not_typed() {
        let mut b = SecretBuffer::new(PASSWORD_CAPACITY);
        b.push_str("a\tb\r\n");
        assert_eq!(b.take_password().expose(), "ab");
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let mut b = SecretBuffer::new(PIN_CAPACITY);
        b.push_str("9876");
        let shown = format!("{b:?}");
        assert!(!shown.contains("9876"), "{shown}");
    }
}
