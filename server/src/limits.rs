//! Per-IP WebSocket connection cap.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Counts open WebSocket connections per client IP.
#[derive(Debug)]
pub struct IpLimiter {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One counted connection; dropping it releases the slot.
#[derive(Debug)]
pub struct IpGuard {
    limiter: Arc<IpLimiter>,
    ip: IpAddr,
}

impl IpLimiter {
    /// At most `max` connections per IP (`WS_MAX_CONNECTIONS_PER_IP`, default 256).
    pub fn new(max: usize) -> IpLimiter {
        IpLimiter {
            max,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a slot for `ip`, or `None` when it already has `max` connections.
    pub fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Option<IpGuard> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(IpGuard {
            limiter: Arc::clone(self),
            ip,
        })
    }
}

impl Drop for IpGuard {
    fn drop(&mut self) {
        let mut open = self.limiter.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_per_ip_and_released_on_drop() {
        let l = Arc::new(IpLimiter::new(2));
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        let g1 = l.try_acquire(a).unwrap();
        let _g2 = l.try_acquire(a).unwrap();
        assert!(l.try_acquire(a).is_none());
        assert!(l.try_acquire(b).is_some());
        drop(g1);
        assert!(l.try_acquire(a).is_some());
    }
}
