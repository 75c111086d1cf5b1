//! The in-process transport: a card emulator called directly, no PC/SC in between.
//!
//! Used by fast tests and by tools that want the virtual card without a daemon. The
//! emulator itself lives with the virtual card (`crate::vcard`); this side only knows
//! the [`SimulatedCard`] shape, so the arrow points from the emulator to the card layer.

use std::sync::{Arc, Mutex};

use super::transport::{CardTransport, Transmit, TransportError};

/// Anything that answers APDUs like a card does.
pub trait SimulatedCard: Send {
    /// The answer to reset.
    fn atr(&self) -> Vec<u8>;
    /// Answers one command APDU (raw bytes) with response bytes ending in SW1 SW2.
    fn process(&mut self, command: &[u8]) -> Vec<u8>;
    /// Power cycle / warm reset: volatile state (selected application, verified PIN) is lost.
    fn reset(&mut self);
}

/// A shared emulator reached in-process. Clones talk to the same card, so a test can keep
/// one handle to inspect or reset the card while a driver uses another.
pub struct InProcessTransport<C: SimulatedCard> {
    card: Arc<Mutex<C>>,
    inserted: Arc<Mutex<bool>>,
    /// Set when the card was re-inserted: the next transaction reports the reset once, as
    /// PC/SC does, so drivers learn that any verified PIN is gone.
    reset_pending: Arc<Mutex<bool>>,
}

// Not derived: a clone shares the card, so `C` itself need not be `Clone`.
impl<C: SimulatedCard> Clone for InProcessTransport<C> {
    fn clone(&self) -> Self {
        InProcessTransport {
            card: self.card.clone(),
            inserted: self.inserted.clone(),
            reset_pending: self.reset_pending.clone(),
        }
    }
}

impl<C: SimulatedCard> InProcessTransport<C> {
    /// Wraps an emulator; the card starts inserted.
    pub fn new(card: C) -> Self {
        InProcessTransport {
            card: Arc::new(Mutex::new(card)),
            inserted: Arc::new(Mutex::new(true)),
            reset_pending: Arc::new(Mutex::new(false)),
        }
    }

    /// Runs `f` on the emulator (to inspect counters in tests).
    pub fn with_card<R>(&self, f: impl FnOnce(&mut C) -> R) -> R {
        f(&mut self.card.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Pulls the card out (`false`) or puts it back (`true`, which also resets it).
    pub fn set_inserted(&self, inserted: bool) {
        let mut flag = self.inserted.lock().unwrap_or_else(|p| p.into_inner());
        if inserted && !*flag {
            self.with_card(|c| c.reset());
            *self.reset_pending.lock().unwrap_or_else(|p| p.into_inner()) = true;
        }
        *flag = inserted;
    }
}

struct InProcessTx<'a, C: SimulatedCard> {
    transport: &'a InProcessTransport<C>,
}

impl<C: SimulatedCard> Transmit for InProcessTx<'_, C> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        if !*self
            .transport
            .inserted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
        {
            return Err(TransportError::CardRemoved);
        }
        Ok(self.transport.with_card(|c| c.process(command)))
    }
}

impl<C: SimulatedCard + 'static> CardTransport for InProcessTransport<C> {
    fn transaction(&mut self) -> Result<Box<dyn Transmit + '_>, TransportError> {
        if !*self.inserted.lock().unwrap_or_else(|p| p.into_inner()) {
            return Err(TransportError::CardRemoved);
        }
        if std::mem::take(&mut *self.reset_pending.lock().unwrap_or_else(|p| p.into_inner())) {
            return Err(TransportError::CardReset);
        }
        Ok(Box::new(InProcessTx { transport: self }))
    }

    fn atr(&self) -> Vec<u8> {
        self.with_card(|c| c.atr())
    }

    fn supports_extended_length(&self) -> bool {
        false
    }

    fn describe(&self) -> String {
        "in-process virtual card".into()
    }
}
