//! Values the server swaps when its configuration is reloaded (SIGHUP): readers take a cheap
//! snapshot (`get`), and a session keeps using the snapshot it took for one operation.

use std::sync::{Arc, RwLock};

/// A value replaced as a whole on reload.
pub struct Live<T>(RwLock<Arc<T>>);

impl<T> Live<T> {
    /// A live value.
    pub fn new(value: T) -> Self {
        Live(RwLock::new(Arc::new(value)))
    }

    /// The current value.
    pub fn get(&self) -> Arc<T> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces the value; snapshots taken before keep the old one.
    pub fn set(&self, value: T) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(value);
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Live<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_survive_a_swap() {
        let live = Live::new(1);
        let before = live.get();
        live.set(2);
        assert_eq!((*before, *live.get()), (1, 2));
    }
}
