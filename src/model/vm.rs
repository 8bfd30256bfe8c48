//! VMs: their drawn attributes, packed small, and the support rules of the seed.

use super::config::{Fleet, Inventory, Support};
use crate::engine::num::round;
use crate::engine::rng::{name_key, stream};
use crate::engine::SimTime;

/// Purpose tags of random streams (part of every stream key).
pub mod purpose {
    /// A VM's static attributes.
    pub const ATTRS: u64 = 1;
    /// One job's draws.
    pub const JOB: u64 = 2;
    /// A job's start offset within `start_within`.
    pub const START: u64 = 3;
    /// A fleet's on-demand arrival stream.
    pub const ON_DEMAND: u64 = 4;
    /// A vault's creation time.
    pub const VAULT: u64 = 5;
    /// A link's outage process.
    pub const OUTAGE: u64 = 6;
    /// A restore drill or stream.
    pub const RESTORE: u64 = 7;
    /// A VM's daily churn.
    pub const CHURN: u64 = 8;
    /// A VM's compression and deduplication factors (drawn per VM).
    pub const REDUCE: u64 = 9;
}

/// Why a VM cannot be backed up, in the order the rules are checked (the first failing
/// rule is the VM's reason).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Unsupported {
    /// Resource-manager ("IaaS v2") deployment.
    ResourceManagerDeployment,
    /// 16 or more data disks.
    TooManyDataDisks,
    /// Premium storage.
    PremiumStorage,
    /// More than one reserved IP.
    TooManyReservedIps,
    /// A reserved IP with no endpoint defined.
    ReservedIpWithoutEndpoint,
    /// More than one NIC.
    TooManyNics,
    /// Internal or internet-facing load-balanced set.
    LoadBalanced,
    /// Windows Server older than 2008 R2.
    WindowsVersionTooOld,
    /// The policy's vault is in another region.
    CrossRegion,
}

impl Unsupported {
    /// Every reason, in rule order.
    pub const ALL: [Unsupported; 9] = [
        Unsupported::ResourceManagerDeployment,
        Unsupported::TooManyDataDisks,
        Unsupported::PremiumStorage,
        Unsupported::TooManyReservedIps,
        Unsupported::ReservedIpWithoutEndpoint,
        Unsupported::TooManyNics,
        Unsupported::LoadBalanced,
        Unsupported::WindowsVersionTooOld,
        Unsupported::CrossRegion,
    ];

    /// The metric name part.
    pub fn name(self) -> &'static str {
        match self {
            Unsupported::ResourceManagerDeployment => "ResourceManagerDeployment",
            Unsupported::TooManyDataDisks => "TooManyDataDisks",
            Unsupported::PremiumStorage => "PremiumStorage",
            Unsupported::TooManyReservedIps => "TooManyReservedIps",
            Unsupported::ReservedIpWithoutEndpoint => "ReservedIpWithoutEndpoint",
            Unsupported::TooManyNics => "TooManyNics",
            Unsupported::LoadBalanced => "LoadBalanced",
            Unsupported::WindowsVersionTooOld => "WindowsVersionTooOld",
            Unsupported::CrossRegion => "CrossRegion",
        }
    }
}

/// Bit flags of a VM.
pub mod flag {
    /// The VM agent was provisioned.
    pub const AGENT: u8 = 1;
    /// No outbound internet.
    pub const BLOCKED: u8 = 2;
    /// The backup extension is installed.
    pub const EXTENSION: u8 = 4;
    /// Windows (else Linux).
    pub const WINDOWS: u8 = 8;
    /// A disk exceeds the size limit.
    pub const OVERSIZE_DISK: u8 = 16;
    /// A multi-DC domain controller.
    pub const MULTI_DC: u8 = 32;
    /// Supported: jobs are scheduled for it.
    pub const SUPPORTED: u8 = 64;
    /// Its first (full) backup succeeded: the vault holds its base.
    pub const HAS_BASE: u8 = 128;
}

/// One VM's state, kept compact (a million of them must fit in cache-friendly arrays).
/// Its fields take 58 bytes: aligned to a 64-byte cache line, a VM's state is one line,
/// where 8-byte alignment put one VM in eight across two (a job touches its VM's state
/// cold, once a night, so each line is a cache miss at fleet scale).
#[derive(Clone, Debug)]
#[repr(align(64))]
pub struct Vm {
    /// Index of its fleet.
    pub fleet: u32,
    /// Index within the fleet (part of its stream keys).
    pub index: u32,
    /// [`flag`] bits.
    pub flags: u8,
    /// Data disks (the OS disk comes on top).
    pub data_disks: u8,
    /// Where its disk count, then its disks' sizes, start in the run's [`DiskSizes`]
    /// (`u32::MAX` where they are not kept); in what was padding.
    pub disks_at: u32,
    /// Bytes in use over all its disks.
    pub used_bytes: u64,
    /// Time of its newest recovery point, its snapshot's (or the origin of RPO
    /// accounting).
    pub last_point: SimTime,
    /// When that point reached the vault (its transfer's end): until then RPO samples
    /// still see the previous point.
    pub point_arrived: SimTime,
    /// Time of its first recovery point, `NEVER` if none.
    pub first_point: SimTime,
    /// Slot of the job running on it, `u32::MAX` if none.
    pub busy: u32,
    /// Retention period indices (week, month, year) of its newest point.
    pub last_periods: [u32; 3],
}

impl Vm {
    /// Whether a flag is set.
    #[inline]
    pub fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }
}

/// The attributes of a VM that the support rules read.
#[derive(Clone, Copy, Debug)]
pub struct Attrs<'a> {
    /// `classic` or `resource-manager`.
    pub deployment: &'a str,
    /// Data disks.
    pub data_disks: u32,
    /// `standard` or `premium`.
    pub storage: &'a str,
    /// Reserved IPs.
    pub reserved_ips: u32,
    /// Endpoints.
    pub endpoints: u32,
    /// NICs.
    pub nics: u32,
    /// In a load-balanced set.
    pub load_balanced: bool,
    /// Operating system name (`windows-<version>` or a Linux distribution).
    pub os: &'a str,
    /// Whether the VM is in another region than its policy's vault.
    pub other_region: bool,
}

/// The support rules: every rule `a` fails, in [`Unsupported::ALL`] order (the first is
/// the VM's reason). Empty for a supported VM.
pub fn unsupported_reasons(a: &Attrs, support: &Support) -> Vec<Unsupported> {
    let os_class = classify_os(a.os).unwrap_or(OsClass::Linux);
    let min_win = support.min_windows;
    let mut reasons = Vec::new();
    if a.deployment == "resource-manager" && !support.resource_manager {
        reasons.push(Unsupported::ResourceManagerDeployment);
    }
    if a.data_disks > support.max_data_disks {
        reasons.push(Unsupported::TooManyDataDisks);
    }
    if a.storage == "premium" && !support.premium_storage {
        reasons.push(Unsupported::PremiumStorage);
    }
    if a.reserved_ips > support.max_reserved_ips {
        reasons.push(Unsupported::TooManyReservedIps);
    }
    if a.reserved_ips >= 1 && a.endpoints == 0 && support.reserved_ip_requires_endpoint {
        reasons.push(Unsupported::ReservedIpWithoutEndpoint);
    }
    if a.nics > support.max_nics {
        reasons.push(Unsupported::TooManyNics);
    }
    if a.load_balanced && !support.load_balanced {
        reasons.push(Unsupported::LoadBalanced);
    }
    if let OsClass::Windows(v) = os_class {
        if v < min_win {
            reasons.push(Unsupported::WindowsVersionTooOld);
        }
    }
    if a.other_region && !support.cross_region {
        reasons.push(Unsupported::CrossRegion);
    }
    reasons
}

/// Whether a VM whose largest disk holds `largest` bytes is over the size limit: its
/// backups fail with `UserErrorUnsupportedDiskSize`.
pub fn oversize(largest: u64, support: &Support) -> bool {
    largest > support.max_disk_size
}

/// Draws VM `index` of fleet `fleet` and checks the support rules. Returns the VM and
/// the failing rules (first = its reason).
pub fn draw_vm(
    seed: u64,
    fleet_idx: u32,
    fleet: &Fleet,
    index: u32,
    support: &Support,
    vault_region: usize,
) -> (Vm, Vec<Unsupported>) {
    draw_vm_counting(
        seed,
        fleet_idx,
        fleet,
        index,
        support,
        vault_region,
        &mut Vec::new(),
        &mut Vec::new(),
    )
}

/// As [`draw_vm`], appending to `capped` the fleet key (`"disk_size"`, ...) of every draw
/// that exceeded its type's range and was saturated, and setting `sizes` to the VM's
/// disk sizes as [`disk_sizes`] gives them (the OS disk first; an inventory's when its
/// row lists them).
#[allow(clippy::too_many_arguments)]
pub fn draw_vm_counting(
    seed: u64,
    fleet_idx: u32,
    fleet: &Fleet,
    index: u32,
    support: &Support,
    vault_region: usize,
    capped: &mut Vec<&'static str>,
    sizes: &mut Vec<u64>,
) -> (Vm, Vec<Unsupported>) {
    fn note<T>(capped: &mut Vec<&'static str>, (v, hit): (T, bool), key: &'static str) -> T {
        if hit {
            capped.push(key);
        }
        v
    }
    let mut r = attr_stream(seed, fleet, index);
    use rand::Rng;
    // Draw order is part of the results format: append new attributes at the end.
    let os = fleet.os.sample(&mut r);
    let deployment = fleet.deployment.sample(&mut r);
    let agent = r.gen_bool(fleet.agent_installed);
    let blocked = r.gen_bool(fleet.connectivity_blocked);
    let extension = r.gen_bool(fleet.extension_installed);
    let data_disks = note(capped, fleet.data_disks.draw(&mut r), "data_disks");
    let used = fleet.used.sample(&mut r);
    let os_disk = note(capped, fleet.os_disk.draw(&mut r), "os_disk");
    let mut total = os_disk;
    let mut largest = os_disk;
    sizes.clear();
    sizes.push(os_disk);
    for _ in 0..data_disks.min(MAX_DRAWN_DATA_DISKS) {
        let s = note(capped, fleet.disk_size.draw(&mut r), "disk_size");
        total = total.saturating_add(s);
        largest = largest.max(s);
        sizes.push(s);
    }
    let storage = fleet.storage.sample(&mut r);
    let nics = note(capped, fleet.nics.draw(&mut r), "nics");
    let reserved_ips = note(capped, fleet.reserved_ips.draw(&mut r), "reserved_ips");
    let endpoints = note(capped, fleet.endpoints.draw(&mut r), "endpoints");
    let load_balanced = r.gen_bool(fleet.load_balanced);
    let dc = fleet.domain_controller.sample(&mut r);

    // An inventory's cells replace the draws (made all the same, so that every other
    // attribute keeps its stream position).
    #[rustfmt::skip]
    let mut d = Listed { os, agent, blocked, data_disks, total, largest, used_bytes: None };
    if let Some(inv) = fleet.inventory.as_deref() {
        d.replace(inv, index, sizes);
    }
    let used_bytes = d
        .used_bytes
        .unwrap_or_else(|| round(d.total as f64 * used) as u64);
    let os_class = classify_os(d.os).unwrap_or(OsClass::Linux);
    let reasons = unsupported_reasons(
        &Attrs {
            deployment,
            data_disks: d.data_disks,
            storage,
            reserved_ips,
            endpoints,
            nics,
            load_balanced,
            os: d.os,
            other_region: fleet.region != vault_region,
        },
        support,
    );
    let mut flags = 0u8;
    for (cond, f) in [
        (d.agent, flag::AGENT),
        (d.blocked, flag::BLOCKED),
        (extension, flag::EXTENSION),
        (matches!(os_class, OsClass::Windows(_)), flag::WINDOWS),
        (oversize(d.largest, support), flag::OVERSIZE_DISK),
        (dc == "multi-dc", flag::MULTI_DC),
        (reasons.is_empty(), flag::SUPPORTED),
    ] {
        if cond {
            flags |= f;
        }
    }
    let vm = Vm {
        fleet: fleet_idx,
        index,
        flags,
        data_disks: d.data_disks.min(255) as u8,
        disks_at: u32::MAX,
        used_bytes,
        last_point: SimTime::ZERO,
        point_arrived: SimTime::ZERO,
        first_point: SimTime::NEVER,
        busy: u32::MAX,
        last_periods: [u32::MAX; 3],
    };
    (vm, reasons)
}

/// The most data disks whose sizes are drawn per VM (more are unsupported long before).
const MAX_DRAWN_DATA_DISKS: u32 = 64;

/// The attributes of a VM that an inventory row may give, drawn first.
struct Listed<'a> {
    os: &'a str,
    agent: bool,
    blocked: bool,
    data_disks: u32,
    /// The disks' total and largest size.
    total: u64,
    largest: u64,
    /// Bytes in use, when the row says (else the total × the drawn share).
    used_bytes: Option<u64>,
}

impl<'a> Listed<'a> {
    /// Replaces the draws with VM `index`'s cells of `inv` that are not blank (its disks'
    /// sizes into `sizes`).
    fn replace(&mut self, inv: &'a Inventory, index: u32, sizes: &mut Vec<u64>) {
        if let Some(os) = Inventory::cell(&inv.os, index) {
            self.os = os;
        }
        if let Some(&a) = Inventory::cell(&inv.agent, index) {
            self.agent = a;
        }
        if let Some(&b) = Inventory::cell(&inv.blocked, index) {
            self.blocked = b;
        }
        if let Some(d) = Inventory::cell(&inv.disks, index) {
            sizes.clear();
            sizes.extend_from_slice(d);
            self.data_disks = d.len().saturating_sub(1) as u32;
            self.total = d.iter().fold(0u64, |a, &s| a.saturating_add(s));
            self.largest = d.iter().copied().max().unwrap_or(0);
        }
        self.used_bytes = Inventory::cell(&inv.used, index).copied();
    }
}

/// The stream of VM `index`'s static attributes.
fn attr_stream(seed: u64, fleet: &Fleet, index: u32) -> crate::engine::Stream {
    stream(seed, &[purpose::ATTRS, name_key(&fleet.name), index as u64])
}

/// The sizes of VM `index`'s disks (the OS disk first, then its data disks), replayed
/// from its attribute stream into `out` (cleared first): the same draws as
/// [`draw_vm_counting`], so a VM keeps only its total used bytes and a job re-derives its
/// disks when it needs them. Every disk is used to the VM's one drawn share, so a disk's
/// used bytes are in proportion to its size.
pub fn disk_sizes(seed: u64, fleet: &Fleet, index: u32, out: &mut Vec<u64>) {
    use rand::Rng;
    out.clear();
    if let Some(d) = fleet
        .inventory
        .as_deref()
        .and_then(|v| Inventory::cell(&v.disks, index))
    {
        out.extend_from_slice(d);
        return;
    }
    let mut r = attr_stream(seed, fleet, index);
    // The draws before the disks, in draw_vm_counting's order.
    let _ = fleet.os.sample(&mut r);
    let _ = fleet.deployment.sample(&mut r);
    let _ = r.gen_bool(fleet.agent_installed);
    let _ = r.gen_bool(fleet.connectivity_blocked);
    let _ = r.gen_bool(fleet.extension_installed);
    let (data_disks, _) = fleet.data_disks.draw(&mut r);
    let _ = fleet.used.sample(&mut r);
    out.push(fleet.os_disk.draw(&mut r).0);
    for _ in 0..data_disks.min(MAX_DRAWN_DATA_DISKS) {
        out.push(fleet.disk_size.draw(&mut r).0);
    }
}

/// The OS and data disk sizes of a fleet whose sizes are constants and whose VMs are
/// not listed in an inventory: every VM's disks are then these, its count of data disks
/// the one it drew (`Vm::data_disks`, which is at least the 64 drawn when not fewer), so
/// a job needs no replay of its VM's draws ([`disk_sizes`] gives the same).
fn fixed_disk_sizes(fleet: &Fleet) -> Option<(u64, u64)> {
    constant_disk_sizes(fleet.inventory.is_some(), &fleet.os_disk, &fleet.disk_size)
}

/// [`fixed_disk_sizes`] of a fleet with these OS and data disk sizes, listed in an
/// inventory or not (for the memory estimate, which has the scenario's fleet): a run
/// keeps no disk sizes of its VMs ([`DiskSizes::keep`]).
pub fn constant_disk_sizes(
    listed: bool,
    os_disk: &crate::engine::dist::SizeDist,
    disk_size: &crate::engine::dist::SizeDist,
) -> Option<(u64, u64)> {
    if listed {
        return None;
    }
    Some((os_disk.fixed()?, disk_size.fixed()?))
}

/// Runs of at most this many VMs keep every VM's disk sizes, as drawn when the run is
/// set up (8 bytes a disk and one for the count: about 4 MiB for 131 072 VMs of three
/// disks); larger ones replay a VM's sizes at each of its jobs, as [`disk_sizes`] is
/// built to. Kept, scale-100k's regions (up to 40 000 VMs) run 3–5 % faster; at 400 000
/// VMs (scale-1m's largest region) the kept sizes' cache misses cost what the replay
/// does (see docs/performance.md), and a million VMs keep their memory.
pub const KEEP_DISKS_UP_TO: usize = 1 << 17;

/// VMs' disk sizes ([`disk_sizes`]), kept in runs small enough to afford it: a VM backed
/// up every night would otherwise draw its attributes again at every job (several
/// hundred instructions). The sizes are the draws' (which the replay repeats), in VM
/// order, each VM's found from its [`Vm::disks_at`]; keeping them changes no result.
/// A fleet of constant sizes needs neither (`fixed_disk_sizes`).
#[derive(Debug, Default)]
pub struct DiskSizes {
    /// Whether the run keeps them.
    keep: bool,
    /// Per kept VM, its disk count, then its sizes.
    kept: Vec<u64>,
    /// Per fleet of the run, its constant OS and data disk sizes, if they are.
    fixed: Vec<Option<(u64, u64)>>,
}

impl DiskSizes {
    /// For a run of `fleets`: keeping their VMs' sizes if there are at most
    /// [`KEEP_DISKS_UP_TO`] VMs in all.
    pub fn for_run(fleets: &[Fleet]) -> Self {
        let vms = fleets.iter().map(|f| f.count as usize).sum();
        Self::kept_up_to(KEEP_DISKS_UP_TO, vms, fleets)
    }

    /// [`DiskSizes::for_run`] for `vms` VMs, keeping them for at most `up_to`.
    fn kept_up_to(up_to: usize, vms: usize, fleets: &[Fleet]) -> Self {
        DiskSizes {
            keep: vms <= up_to,
            kept: Vec::new(),
            fixed: fleets.iter().map(fixed_disk_sizes).collect(),
        }
    }

    /// Keeps `sizes`, the sizes of `vm`'s disks (from [`draw_vm_counting`]), if the run
    /// keeps them and its fleet's are not constant, setting its [`Vm::disks_at`]. (A
    /// fleet of constant sizes gives them from the VM's disk count, which a transfer has
    /// loaded with the VM: kept, they cost a load that misses.)
    pub fn keep(&mut self, vm: &mut Vm, sizes: &[u64]) {
        if self.fixed_of(vm).is_some() {
            return;
        }
        // At most 2^17 VMs of at most 65 drawn disks is far below 2^32 words; should an
        // inventory list more, the VMs past that offset (`u32::MAX` says "not kept")
        // replay theirs.
        let at = u32::try_from(self.kept.len())
            .ok()
            .filter(|&a| a != u32::MAX);
        if let (true, Some(at)) = (self.keep, at) {
            vm.disks_at = at;
            self.kept.push(sizes.len() as u64);
            self.kept.extend_from_slice(sizes);
        }
    }

    /// [`disk_sizes`] of `vm`, of `fleet`: the kept sizes themselves, or else `out`
    /// (cleared first) filled with them (no copy of kept sizes, which a backup reads
    /// for each transfer).
    #[inline]
    pub fn get<'a>(
        &'a self,
        seed: u64,
        fleet: &Fleet,
        vm: &Vm,
        out: &'a mut Vec<u64>,
    ) -> &'a [u64] {
        if let Some(&n) = self.kept.get(vm.disks_at as usize) {
            let start = vm.disks_at as usize + 1;
            return &self.kept[start..start + n as usize];
        }
        match self.fixed_of(vm) {
            // Sizes no draw varies: no replay (the VM's count is the drawn one).
            Some((os, data)) => {
                out.clear();
                out.push(os);
                let n = u32::from(vm.data_disks).min(MAX_DRAWN_DATA_DISKS) as usize;
                out.extend(std::iter::repeat(data).take(n));
            }
            None => disk_sizes(seed, fleet, vm.index, out),
        }
        out
    }

    /// The constant OS and data disk sizes of `vm`'s fleet, if they are
    /// ([`fixed_disk_sizes`]).
    #[inline]
    fn fixed_of(&self, vm: &Vm) -> Option<(u64, u64)> {
        self.fixed.get(vm.fleet as usize).copied().flatten()
    }

    /// Hints that `vm`'s sizes will be read soon (see `engine::prefetch`).
    #[inline]
    pub fn prefetch(&self, vm: &Vm) {
        crate::engine::prefetch::prefetch_at(&self.kept, vm.disks_at as usize);
    }
}

/// Splits `bytes` over disks in proportion to `weights` (their sizes), into `out`: disk
/// `i` gets `⌊bytes × W≤i / W⌋ − ⌊bytes × W<i / W⌋` with `W<i` the weights before it, so
/// the parts add up to `bytes` exactly. All-zero weights put everything on the first disk.
pub fn split_bytes(bytes: u64, weights: &[u64], out: &mut Vec<u64>) {
    out.clear();
    let sum = |shift: u32| -> u128 { weights.iter().map(|&w| u128::from(w >> shift)).sum() };
    // Weights scaled down until their sum fits 64 bits, so `bytes × W` fits 128.
    let mut shift = 0;
    while sum(shift) > u128::from(u64::MAX) {
        shift += 1;
    }
    let total = sum(shift);
    if total == 0 {
        out.extend(
            weights
                .iter()
                .enumerate()
                .map(|(i, _)| if i == 0 { bytes } else { 0 }),
        );
        return;
    }
    let (mut cum, mut prev) = (0u128, 0u128);
    for &w in weights {
        cum += u128::from(w >> shift);
        let upto = u128::from(bytes) * cum / total;
        out.push((upto - prev) as u64);
        prev = upto;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_state_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<Vm>(), 64);
        assert_eq!(std::mem::align_of::<Vm>(), 64);
    }

    #[test]
    fn split_bytes_is_proportional_and_exact() {
        let mut out = Vec::new();
        split_bytes(10, &[1, 1, 1], &mut out);
        assert_eq!(out, vec![3, 3, 4]);
        split_bytes(1_030, &[1_000, 10, 10, 10], &mut out);
        assert_eq!(out, vec![1_000, 10, 10, 10]);
        split_bytes(u64::MAX, &[u64::MAX, u64::MAX], &mut out);
        assert_eq!(
            out.iter().map(|&b| u128::from(b)).sum::<u128>(),
            u128::from(u64::MAX)
        );
        split_bytes(7, &[0, 0], &mut out);
        assert_eq!(out, vec![7, 0]);
    }

    #[test]
    fn disk_sizes_replay_the_drawn_vm() {
        let s = crate::scenario::build::support(&Default::default());
        let f = fleet(concat!(
            "data_disks = { dist = \"uniform-int\", min = 0, max = 6 }\n",
            "disk_size = { dist = \"uniform\", min = \"1 GB\", max = \"900 GB\" }\n",
            "used = 1.0"
        ));
        let mut sizes = Vec::new();
        for i in 0..20 {
            let (vm, _) = draw_vm(3, 0, &f, i, &s, 0);
            disk_sizes(3, &f, i, &mut sizes);
            assert_eq!(sizes.len(), vm.data_disks as usize + 1);
            assert_eq!(sizes.iter().sum::<u64>(), vm.used_bytes);
        }
    }

    /// Kept sizes (the draws') are the replay's, for every VM in any order of reading;
    /// a run too large to keep them replays every time.
    #[test]
    fn kept_disk_sizes_are_the_replay() {
        let f = fleet(concat!(
            "data_disks = { dist = \"uniform-int\", min = 0, max = 6 }\n",
            "disk_size = { dist = \"uniform\", min = \"1 GB\", max = \"900 GB\" }"
        ));
        let s = crate::scenario::build::support(&Default::default());
        for up_to in [20, 19] {
            let mut kept = DiskSizes::kept_up_to(up_to, 20, std::slice::from_ref(&f));
            let mut sizes = vec![9];
            let vms: Vec<Vm> = (0..20)
                .map(|i| {
                    let (mut vm, _) =
                        draw_vm_counting(5, 0, &f, i, &s, 0, &mut Vec::new(), &mut sizes);
                    kept.keep(&mut vm, &sizes);
                    vm
                })
                .collect();
            let order = [3u32, 0, 3, 19, 0, 7, 19, 3];
            assert_sizes_are_the_replay(&kept, &f, &vms, &order);
            assert_eq!(kept.kept.is_empty(), up_to < 20);
        }
    }

    /// `sizes.get` of the VMs at `order` in `vms` (of fleet `f`, seed 5) is the replay.
    fn assert_sizes_are_the_replay(sizes: &DiskSizes, f: &Fleet, vms: &[Vm], order: &[u32]) {
        let (mut want, mut got) = (Vec::new(), vec![7]);
        for &i in order {
            disk_sizes(5, f, i, &mut want);
            let got = sizes.get(5, f, &vms[i as usize], &mut got);
            assert_eq!(got, want, "VM {i}, kept: {}", !sizes.kept.is_empty());
        }
    }

    /// A fleet of constant disk sizes gives each VM its sizes without a replay: the same
    /// as the replay, past the 64 data disks drawn too; a fleet whose sizes vary, or an
    /// OS disk that does, is replayed.
    #[test]
    fn fixed_disk_sizes_are_the_replay() {
        let s = crate::scenario::build::support(&Default::default());
        let f = fleet(concat!(
            "data_disks = { dist = \"uniform-int\", min = 0, max = 70 }\n",
            "disk_size = \"128 GiB\"\n",
            "os_disk = \"127 GiB\""
        ));
        assert_eq!(fixed_disk_sizes(&f), Some((127 << 30, 128 << 30)));
        let never = DiskSizes::kept_up_to(0, 40, std::slice::from_ref(&f));
        assert_eq!(
            never.fixed,
            [Some((127 << 30, 128 << 30))],
            "decided per run"
        );
        let vms: Vec<Vm> = (0..40).map(|i| draw_vm(5, 0, &f, i, &s, 0).0).collect();
        assert!(
            vms.iter().any(|vm| vm.data_disks > 64),
            "some VM draws more than 64 data disks"
        );
        assert_sizes_are_the_replay(&never, &f, &vms, &(0..40).collect::<Vec<_>>());
        // A run that keeps sizes keeps none of a fleet of constant ones.
        let mut keeps = DiskSizes::kept_up_to(40, 40, std::slice::from_ref(&f));
        let mut sizes = Vec::new();
        let vms: Vec<Vm> = (0..40)
            .map(|i| {
                let (mut vm, _) = draw_vm_counting(5, 0, &f, i, &s, 0, &mut Vec::new(), &mut sizes);
                keeps.keep(&mut vm, &sizes);
                assert_eq!(vm.disks_at, u32::MAX, "VM {i} not kept");
                vm
            })
            .collect();
        assert!(keeps.kept.is_empty());
        assert_sizes_are_the_replay(&keeps, &f, &vms, &(0..40).collect::<Vec<_>>());
        let varying = fleet("disk_size = { dist = \"uniform\", min = \"1 GB\", max = \"9 GB\" }");
        assert_eq!(fixed_disk_sizes(&varying), None);
        let varying_os = fleet("os_disk = { dist = \"uniform\", min = \"1 GB\", max = \"9 GB\" }");
        assert_eq!(fixed_disk_sizes(&varying_os), None);
    }

    fn fleet(extra: &str) -> Fleet {
        let src = format!(
            "[simulation]\nname = \"t\"\n[[region]]\nname = \"r\"\n[[region]]\nname = \"elsewhere\"\n[[vault]]\nname = \"v\"\nregion = \"r\"\n[[policy]]\nname = \"p\"\nvault = \"v\"\n[[fleet]]\nname = \"f\"\ncount = 1\nregion = \"r\"\npolicy = \"p\"\n{extra}"
        );
        let s: crate::scenario::Scenario = toml::from_str(&src).unwrap();
        crate::scenario::build(&s).fleets.remove(0)
    }

    #[test]
    fn each_rule_names_its_reason() {
        let s = crate::scenario::build::support(&Default::default());
        let cases = [
            (
                "deployment = \"resource-manager\"",
                Unsupported::ResourceManagerDeployment,
            ),
            ("data_disks = 16", Unsupported::TooManyDataDisks),
            ("storage = \"premium\"", Unsupported::PremiumStorage),
            ("reserved_ips = 2", Unsupported::TooManyReservedIps),
            (
                "reserved_ips = 1\nendpoints = 0",
                Unsupported::ReservedIpWithoutEndpoint,
            ),
            ("nics = 2", Unsupported::TooManyNics),
            ("load_balanced = true", Unsupported::LoadBalanced),
            ("os = \"windows-2008\"", Unsupported::WindowsVersionTooOld),
        ];
        for (extra, reason) in cases {
            let (_, r) = draw_vm(1, 0, &fleet(extra), 0, &s, 0);
            assert_eq!(r, vec![reason], "{extra}");
        }
        let (_, r) = draw_vm(1, 0, &fleet(""), 0, &s, 1);
        assert_eq!(r, vec![Unsupported::CrossRegion]);
        let (vm, r) = draw_vm(
            1,
            0,
            &fleet("data_disks = 15\nos = \"windows-2008r2\""),
            0,
            &s,
            0,
        );
        assert!(r.is_empty() && vm.has(flag::SUPPORTED));
        // The first failing rule is the reason; all are reported.
        let (_, r) = draw_vm(1, 0, &fleet("nics = 2\nstorage = \"premium\""), 0, &s, 0);
        assert_eq!(
            r,
            vec![Unsupported::PremiumStorage, Unsupported::TooManyNics]
        );
        // [support] switches lift a rule.
        let lifted = Support {
            premium_storage: true,
            ..s.clone()
        };
        let (_, r) = draw_vm(1, 0, &fleet("storage = \"premium\""), 0, &lifted, 0);
        assert!(r.is_empty());
    }
}

/// Windows Server versions in release order.
pub const WINDOWS_VERSIONS: [&str; 8] = [
    "2003", "2003r2", "2008", "2008r2", "2012", "2012r2", "2016", "2019",
];

/// An operating system as the support rules see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OsClass {
    /// Windows Server, by index into [`WINDOWS_VERSIONS`].
    Windows(u8),
    /// Any Linux distribution.
    Linux,
}

/// Classifies an OS name: `windows-<version>` or anything else as Linux.
pub fn classify_os(name: &str) -> Result<OsClass, String> {
    match name
        .strip_prefix("windows-")
        .or_else(|| name.strip_prefix("windows"))
    {
        Some(v) => WINDOWS_VERSIONS
            .iter()
            .position(|w| *w == v.trim_start_matches('-'))
            .map(|i| OsClass::Windows(i as u8))
            .ok_or_else(|| {
                format!(
                    "expected windows-<version> with version one of {}, found \"{name}\"",
                    WINDOWS_VERSIONS.join(", ")
                )
            }),
        None => Ok(OsClass::Linux),
    }
}
