//! Links shared by concurrent transfers (max-min fair sharing).
//!
//! Interim implementation: water-filling over individual flows.

use crate::engine::SimTime;

/// A link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkId(pub u32);
/// A path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PathId(pub u32);
/// A flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlowId(pub u32);

/// Accumulated statistics of a link.
#[derive(Clone, Copy, Debug, Default)]
pub struct LinkStats {
    /// Bytes carried.
    pub bytes: f64,
    /// ∫ flows dt.
    pub flow_seconds: f64,
    /// Time with at least one flow.
    pub busy_seconds: f64,
    /// Time at capacity 0.
    pub down_seconds: f64,
    /// Bytes stalled by outages.
    pub stalled_bytes: f64,
}

struct Flow {
    path: u32,
    cap: f64,
    remaining: f64,
    rate: f64,
}

/// The network.
#[derive(Default)]
pub struct Network {
    caps: Vec<f64>,
    paths: Vec<Vec<u32>>,
    flows: Vec<Option<Flow>>,
    free: Vec<u32>,
    now: u64,
    stats: Vec<LinkStats>,
}

impl Network {
    /// New network.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds a link.
    pub fn add_link(&mut self, capacity: f64) -> LinkId {
        self.caps.push(capacity);
        self.stats.push(LinkStats::default());
        LinkId(self.caps.len() as u32 - 1)
    }
    /// Adds a path.
    pub fn add_path(&mut self, links: &[LinkId]) -> PathId {
        self.paths.push(links.iter().map(|l| l.0).collect());
        PathId(self.paths.len() as u32 - 1)
    }
    fn progress(&mut self, now: SimTime) {
        let dt = (now.0 - self.now) as f64 / 1e6;
        if dt > 0.0 {
            for f in self.flows.iter_mut().flatten() {
                f.remaining -= f.rate * dt;
                for &l in &self.paths[f.path as usize] {
                    self.stats[l as usize].bytes += f.rate * dt;
                    self.stats[l as usize].flow_seconds += dt;
                }
            }
        }
        self.now = now.0;
    }
    fn recompute(&mut self) {
        let mut rem = self.caps.clone();
        let mut frozen: Vec<bool> = self.flows.iter().map(|f| f.is_none()).collect();
        loop {
            let mut count = vec![0usize; rem.len()];
            for (i, f) in self.flows.iter().enumerate() {
                if let (Some(f), false) = (f, frozen[i]) {
                    for &l in &self.paths[f.path as usize] {
                        count[l as usize] += 1;
                    }
                }
            }
            let mut best = f64::INFINITY;
            for (l, &c) in count.iter().enumerate() {
                if c > 0 {
                    best = best.min(rem[l].max(0.0) / c as f64);
                }
            }
            for (i, f) in self.flows.iter().enumerate() {
                if let (Some(f), false) = (f, frozen[i]) {
                    best = best.min(f.cap);
                }
            }
            if !best.is_finite() {
                break;
            }
            let mut any = false;
            for i in 0..self.flows.len() {
                if frozen[i] {
                    continue;
                }
                let f = self.flows[i].as_ref().expect("live");
                let bottleneck = f.cap <= best
                    || self.paths[f.path as usize].iter().any(|&l| {
                        count[l as usize] > 0
                            && rem[l as usize].max(0.0) / count[l as usize] as f64 <= best
                    });
                if bottleneck {
                    frozen[i] = true;
                    any = true;
                    for &l in &self.paths[f.path as usize] {
                        rem[l as usize] -= best;
                    }
                    self.flows[i].as_mut().expect("live").rate = best;
                }
            }
            if !any {
                break;
            }
        }
    }
    /// Starts a flow.
    pub fn start_flow(&mut self, now: SimTime, path: PathId, cap: f64, bytes: u64) -> FlowId {
        self.progress(now);
        let f = Flow {
            path: path.0,
            cap,
            remaining: bytes as f64,
            rate: 0.0,
        };
        let id = match self.free.pop() {
            Some(i) => {
                self.flows[i as usize] = Some(f);
                i
            }
            None => {
                self.flows.push(Some(f));
                self.flows.len() as u32 - 1
            }
        };
        self.recompute();
        FlowId(id)
    }
    /// Cancels a flow.
    pub fn cancel_flow(&mut self, now: SimTime, flow: FlowId) -> u64 {
        self.progress(now);
        let f = self.flows[flow.0 as usize].take().expect("live flow");
        self.free.push(flow.0);
        self.recompute();
        f.remaining.max(0.0).ceil() as u64
    }
    /// Sets a capacity.
    pub fn set_capacity(&mut self, now: SimTime, link: LinkId, capacity: f64) {
        self.progress(now);
        self.caps[link.0 as usize] = capacity;
        self.recompute();
    }
    /// Next completion.
    pub fn next_completion(&self) -> Option<SimTime> {
        self.flows
            .iter()
            .flatten()
            .filter(|f| f.rate > 0.0)
            .map(|f| self.now + ((f.remaining.max(0.0) / f.rate) * 1e6).ceil() as u64)
            .min()
            .map(SimTime)
    }
    /// Advances.
    pub fn advance(&mut self, now: SimTime) -> Vec<FlowId> {
        let mut out = Vec::new();
        self.advance_into(now, &mut out);
        out
    }
    /// Advances into a buffer.
    pub fn advance_into(&mut self, now: SimTime, out: &mut Vec<FlowId>) {
        self.progress(now);
        for i in 0..self.flows.len() {
            if let Some(f) = &self.flows[i] {
                if f.remaining <= 0.5 || (f.rate > 0.0 && f.remaining / f.rate < 1e-6) {
                    self.flows[i] = None;
                    self.free.push(i as u32);
                    out.push(FlowId(i as u32));
                }
            }
        }
        if !out.is_empty() {
            self.recompute();
        }
    }
    /// Rate of a flow.
    pub fn flow_rate(&self, flow: FlowId) -> f64 {
        self.flows[flow.0 as usize].as_ref().map_or(0.0, |f| f.rate)
    }
    /// Throughput of a link.
    pub fn link_throughput(&self, link: LinkId) -> f64 {
        self.flows
            .iter()
            .flatten()
            .filter(|f| self.paths[f.path as usize].contains(&link.0))
            .map(|f| f.rate)
            .sum()
    }
    /// Capacity of a link.
    pub fn link_capacity(&self, link: LinkId) -> f64 {
        self.caps[link.0 as usize]
    }
    /// Stats of a link.
    pub fn link_stats(&self, link: LinkId, _now: SimTime) -> LinkStats {
        self.stats[link.0 as usize]
    }
    /// Active flows.
    pub fn active_flows(&self) -> usize {
        self.flows.iter().flatten().count()
    }
    /// Flows on a link.
    pub fn link_flows(&self, link: LinkId) -> usize {
        self.flows
            .iter()
            .flatten()
            .filter(|f| self.paths[f.path as usize].contains(&link.0))
            .count()
    }
}
