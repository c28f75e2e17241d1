//! The tile engine for the Pearson bootstrap: exact multinomial draw counts for 32 resamples
//! at a time, multiplied into integer moment sums by the CPU's matrix tiles (Intel AMX).
//!
//! Why: a resample's Pearson r needs five sums over the drawn pairs. Accumulating them draw by
//! draw (`gather`) costs one 64-byte vector add per draw, and that add, not memory, is the
//! limit. Here the draws are never placed one by one. For each resample the engine produces how
//! many times each pair was drawn, and the sums are a product of that count matrix with the
//! pairs' moments, which the tiles do at over a thousand byte products per cycle; what is left
//! is making the counts.
//!
//! Counts are made exactly, for 32 resamples side by side, one per vector lane:
//! - how many draws land in each chunk (4096 items, and the power-of-two pieces of the tail)
//!   by sequential conditional binomials per resample (`resample::block_total`);
//! - inside a chunk, each count splits into Binomial(c, 1/2) and the rest, level by level down
//!   to single items, a Binomial(c, 1/2) being the number of ones among `c` random bits. A
//!   split takes its bits in rounds: one random vector per round, `W` bits per lane (`W` = 16
//!   while a node holds more than 64 items, then 8), the low `min(remaining, W)` bits of each
//!   lane's field counted, until no lane has bits left (and, on the 8-bit levels, at least a
//!   fixed number of rounds, which keeps the loop free of unpredictable branches).
//!
//! That rule, written out lane by lane in `Tree` below, is what the draws are; the AVX-512
//! path is a faster way to follow it whenever the counts fit its lanes (16 bits, then 8), and
//! otherwise (never seen in practice) the chunk is redone by the lane-by-lane code from the
//! same random state. Both give the same counts, so the result does not depend on the path,
//! the number of threads or how groups are batched.
//!
//! Sums are exact integers: x and y are mapped to 32-bit integers (Pearson r does not change
//! under a shift and a positive scale), and the moments x, y, x², y², xy of each pair are split
//! into 32 bytes, the tiles' columns. The only rounding is that of the data to 32 bits. The
//! engine declines data whose range exceeds `GUARD` times the standard deviation of its
//! central 98% (which nearly every resample keeps), so a rounding step is at most 2⁻²⁰ of that
//! spread and a resample's r moves by at most a few parts in a million, typically far less, as
//! rounding errors average out. Declined data, and inputs of more than `MAX_PAIRS` pairs, go
//! to the floating-point `gather` engine.

use super::bootstrap::WeightedR;
use super::resample::block_total;
use super::rng::{Lanes, Rng};
use rayon::prelude::*;

/// Resamples made side by side: the lanes of the count tree.
pub const GROUP: usize = 32;
/// log2 of a full chunk.
const CHUNK_BITS: u32 = 12;
/// log2 of the largest node on the 8-bit levels.
const NODE_BITS: u32 = 6;
/// Byte columns per pair: x and y (4 bytes each), x², y² and xy (8 each).
const COLS: usize = 32;
/// Most pairs the engine takes: its tile layout holds 32 bytes per pair (1 GiB here), twice
/// the floating-point engine's copy, so larger inputs go there. Also keeps every integer
/// product of `r_from_acc` far below 2¹²⁷.
pub const MAX_PAIRS: usize = 1 << 25;
/// Widest data accepted, in standard deviations of the central 98% (see the module notes).
pub const GUARD: f64 = 4096.0;
/// Most groups per task: a task's groups share each chunk's A tiles while those are in L2, so
/// the tiles stream from memory once per task.
const BATCH_GROUPS: usize = 16;
/// Rounds every 8-bit split takes at least, by log2 of the node being split: enough for the
/// counts nearly always seen (about four standard deviations above the mean).
const MIN_ROUNDS: [usize; 7] = [0, 1, 2, 3, 4, 7, 12];
/// Tag in the key of a group's lanes.
const GROUP_TAG: u64 = 0x7469_6c65;

/// Bytes of the A tiles (moments) and B rows (counts) of one pair of nodes: two tiles of 64
/// items, each split into 2 × 16 columns (A) or 2 × 16 resamples (B), 16 rows of 64 bytes.
const PAIR_BYTES: usize = 4096;

/// A power-of-two run of items whose total is drawn by one binomial.
#[derive(Clone, Copy, Debug)]
struct Chunk {
    start: usize,
    bits: u32,
}

/// One vector of the 8-bit levels: node `a` in lanes 0..32 and node `b` (if any) in lanes
/// 32..64, both of `size` items.
#[derive(Clone, Copy, Debug)]
struct Pair {
    a: usize,
    b: Option<usize>,
    size: usize,
}

impl Pair {
    /// The items behind leaf `i` of the vector: `(0, item)` for node a's lanes 0..32 and
    /// `(1, item)` for node b's lanes 32..64, if there is a node b.
    fn halves(&self, i: usize) -> impl Iterator<Item = (usize, usize)> {
        [(0, Some(self.a + i)), (1, self.b.map(|b| b + i))]
            .into_iter()
            .filter_map(|(half, item)| Some((half, item?)))
    }

    /// The item behind byte `t` of quad `m` of the count rows: leaf `2m` then `2m + 1`, each
    /// as (node a, node b).
    fn item(&self, m: usize, t: usize) -> Option<usize> {
        let leaf = 2 * m + t / 2;
        if leaf >= self.size {
            return None;
        }
        if t.is_multiple_of(2) {
            Some(self.a + leaf)
        } else {
            self.b.map(|b| b + leaf)
        }
    }
}

/// Full chunks of 4096, then the tail as powers of two, largest first.
fn chunks(n: usize) -> Vec<Chunk> {
    let full = n >> CHUNK_BITS;
    let mut out: Vec<Chunk> = (0..full)
        .map(|k| Chunk {
            start: k << CHUNK_BITS,
            bits: CHUNK_BITS,
        })
        .collect();
    let mut start = full << CHUNK_BITS;
    for bits in (0..CHUNK_BITS).rev() {
        if n & (1 << bits) != 0 {
            out.push(Chunk { start, bits });
            start += 1 << bits;
        }
    }
    out
}

/// The 8-bit-level vectors of a chunk, in the order the tree makes them.
fn pairs(c: Chunk) -> Vec<Pair> {
    if c.bits <= NODE_BITS {
        return vec![Pair {
            a: c.start,
            b: None,
            size: 1 << c.bits,
        }];
    }
    let node = 1usize << NODE_BITS;
    (0..1usize << (c.bits - NODE_BITS - 1))
        .map(|j| Pair {
            a: c.start + 2 * j * node,
            b: Some(c.start + (2 * j + 1) * node),
            size: node,
        })
        .collect()
}

/// Standard deviation of the values between the 1st and 99th percentiles: a spread nearly
/// every resample keeps, however far a few outliers lie.
fn central_sd(v: &[f64]) -> f64 {
    let k = v.len() / 100;
    let mut s = v.to_vec();
    let (_, &mut lo, above) = s.select_nth_unstable_by(k, f64::total_cmp);
    // The k-th largest is the k-th largest of the values above the k-th smallest, if any.
    let hi = if above.len() > k {
        let at = above.len() - 1 - k;
        *above.select_nth_unstable_by(at, f64::total_cmp).1
    } else {
        lo
    };
    let mid: Vec<f64> = v
        .iter()
        .copied()
        .filter(|a| (lo..=hi).contains(a))
        .collect();
    let m = mid.iter().sum::<f64>() / mid.len() as f64;
    (mid.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / mid.len() as f64).sqrt()
}

/// The map of `v` to 32-bit integers, `(v - lo) * scale` rounded, as `(lo, scale)`; `None` for
/// constant data and, with `guard`, for data wider than `GUARD` times `central_sd`.
fn scale(v: &[f64], guard: bool) -> Option<(f64, f64)> {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let range = hi - lo;
    let narrow = || {
        let sd = central_sd(v);
        sd > 0.0 && range <= GUARD * sd
    };
    (range > 0.0 && (!guard || narrow())).then(|| (lo, u32::MAX as f64 / range))
}

/// `v` mapped to 32-bit integers by `scale`.
fn quantize(v: &[f64], guard: bool) -> Option<Vec<u32>> {
    let (lo, scale) = scale(v, guard)?;
    let top = u32::MAX as f64;
    Some(
        v.par_iter()
            .map(|a| ((a - lo) * scale).round().min(top) as u32)
            .collect(),
    )
}

/// The 32 byte columns of one pair.
fn moment_bytes(x: u32, y: u32) -> [u8; COLS] {
    let (x, y) = (x as u64, y as u64);
    let mut out = [0u8; COLS];
    out[0..4].copy_from_slice(&(x as u32).to_le_bytes());
    out[4..8].copy_from_slice(&(y as u32).to_le_bytes());
    out[8..16].copy_from_slice(&(x * x).to_le_bytes());
    out[16..24].copy_from_slice(&(y * y).to_le_bytes());
    out[24..32].copy_from_slice(&(x * y).to_le_bytes());
    out
}

/// The data laid out for the tiles, shared by every group.
struct Plan {
    n: usize,
    qx: Vec<u32>,
    qy: Vec<u32>,
    chunks: Vec<Chunk>,
    /// Index of each chunk's first pair in `a`, then the number of pairs.
    first_pair: Vec<usize>,
    /// A tiles, `PAIR_BYTES` per pair: byte `(g·2 + h)·1024 + row·64 + 4k + t` is column
    /// `16h + row` of the item behind byte `t` of quad `16g + k`.
    a: Vec<u8>,
}

impl Plan {
    /// The A tiles of chunk `ci`.
    fn tiles(&self, ci: usize) -> &[u8] {
        &self.a[self.first_pair[ci] * PAIR_BYTES..self.first_pair[ci + 1] * PAIR_BYTES]
    }

    fn new(qx: Vec<u32>, qy: Vec<u32>) -> Self {
        let n = qx.len();
        let chunks = chunks(n);
        let mut all: Vec<Pair> = Vec::new();
        let mut first_pair = Vec::with_capacity(chunks.len() + 1);
        for &c in &chunks {
            first_pair.push(all.len());
            all.extend(pairs(c));
        }
        first_pair.push(all.len());
        let mut a = vec![0u8; all.len() * PAIR_BYTES];
        a.par_chunks_mut(PAIR_BYTES)
            .zip(&all)
            .for_each(|(tile, p)| {
                // The pair's 128 slots (quad m, byte t at 4m + t) with their byte columns, then
                // written out a tile row (one column of 64 slots) at a time.
                let mut slots = [[0u8; COLS]; 128];
                for (k, slot) in slots.iter_mut().enumerate() {
                    if let Some(i) = p.item(k / 4, k % 4) {
                        *slot = moment_bytes(qx[i], qy[i]);
                    }
                }
                for g in 0..2 {
                    for col in 0..COLS {
                        let row = &mut tile[(g * 2 + col / 16) * 1024 + (col % 16) * 64..][..64];
                        for (b, slot) in row.iter_mut().zip(&slots[64 * g..64 * (g + 1)]) {
                            *b = slot[col];
                        }
                    }
                }
            });
        Plan {
            n,
            qx,
            qy,
            chunks,
            first_pair,
            a,
        }
    }
}

/// Per-column byte sums of one group: `acc[col][lane]` is the sum over items of lane's count
/// times the item's byte `col`.
type Acc = [[u64; GROUP]; COLS];

/// Pearson r of one lane from its exact sums.
fn r_from_acc(acc: &Acc, lane: usize, n: usize) -> f64 {
    let sum = |col: usize, len: usize| -> u128 {
        (0..len)
            .map(|j| (acc[col + j][lane] as u128) << (8 * j))
            .sum()
    };
    let (sx, sy, sxx, syy, sxy) = (sum(0, 4), sum(4, 4), sum(8, 8), sum(16, 8), sum(24, 8));
    let n = n as u128;
    // Each product is below 2¹²⁶ for n < 2³¹ (`MAX_PAIRS` is less), so nothing overflows.
    let dx = n * sxx - sx * sx;
    let dy = n * syy - sy * sy;
    if dx == 0 || dy == 0 {
        return f64::NAN;
    }
    let num = (n * sxy) as i128 - (sx * sy) as i128;
    (num as f64 / ((dx as f64) * (dy as f64)).sqrt()).clamp(-1.0, 1.0)
}

/// The lane-by-lane count tree: the definition of the draws, used where the vector path's
/// lanes would overflow, and by the tests as the reference.
struct Tree;

impl Tree {
    /// Splits `c` (one count per lane, `64 / (W / 8)` lanes) into Binomial(c, 1/2) and the
    /// rest, taking rounds of `w`-bit fields as the module notes describe.
    fn split(lanes: &mut Lanes, c: &[u64], w: u32, min_rounds: usize) -> (Vec<u64>, Vec<u64>) {
        let max = c.iter().copied().max().unwrap_or(0);
        let rounds = (max.div_ceil(w as u64) as usize).max(min_rounds);
        let mut rem = c.to_vec();
        let mut left = vec![0u64; c.len()];
        let per_word = 64 / w as usize;
        for _ in 0..rounds {
            let r = lanes.step();
            for (j, (l, rm)) in left.iter_mut().zip(rem.iter_mut()).enumerate() {
                let field = (r[j / per_word] >> (w as usize * (j % per_word))) & ((1u64 << w) - 1);
                let m = (*rm).min(w as u64);
                *l += (field & ((1u64 << m) - 1)).count_ones() as u64;
                *rm -= m;
            }
        }
        let right = c.iter().zip(&left).map(|(a, b)| a - b).collect();
        (left, right)
    }

    /// Splits every node of a level, in order, each into its two halves.
    fn level(lanes: &mut Lanes, nodes: Vec<Vec<u64>>, w: u32, min_rounds: usize) -> Vec<Vec<u64>> {
        let mut out = Vec::with_capacity(2 * nodes.len());
        for c in nodes {
            let (l, r) = Self::split(lanes, &c, w, min_rounds);
            out.push(l);
            out.push(r);
        }
        out
    }

    /// Draws one chunk for a group whose chunk totals are `totals`, calling `visit(item, lane,
    /// count)` for every item drawn.
    fn chunk(
        c: Chunk,
        totals: &[u64; GROUP],
        lanes: &mut Lanes,
        mut visit: impl FnMut(usize, usize, u64),
    ) {
        let mut tops: Vec<Vec<u64>> = vec![totals.to_vec()];
        if c.bits > NODE_BITS {
            for _ in NODE_BITS..c.bits {
                tops = Self::level(lanes, tops, 16, 0);
            }
        }
        for (j, p) in pairs(c).into_iter().enumerate() {
            let mut v = tops[2 * j].clone();
            v.extend(
                tops.get(2 * j + 1)
                    .cloned()
                    .unwrap_or_else(|| vec![0; GROUP]),
            );
            let mut nodes = vec![v];
            for bits in (1..=p.size.trailing_zeros()).rev() {
                nodes = Self::level(lanes, nodes, 8, MIN_ROUNDS[bits as usize]);
            }
            for (i, leaf) in nodes.iter().enumerate() {
                for (half, item) in p.halves(i) {
                    for (lane, &k) in leaf[half * GROUP..(half + 1) * GROUP].iter().enumerate() {
                        if k > 0 {
                            visit(item, lane, k);
                        }
                    }
                }
            }
        }
    }

    /// `chunk`, adding each item's count times its byte columns into `acc`.
    fn chunk_sums(plan: &Plan, c: Chunk, totals: &[u64; GROUP], lanes: &mut Lanes, acc: &mut Acc) {
        Self::chunk(c, totals, lanes, |item, lane, k| {
            for (col, b) in moment_bytes(plan.qx[item], plan.qy[item])
                .into_iter()
                .enumerate()
            {
                acc[col][lane] += k * b as u64;
            }
        });
    }
}

/// One group's state: per-resample streams for the chunk totals, the group's lanes for the
/// splits, and its sums.
struct Group {
    rngs: Vec<Rng>,
    left: [u64; GROUP],
    lanes: Lanes,
    acc: Box<Acc>,
}

impl Group {
    fn new(seed: u64, g: usize, n: usize) -> Self {
        Group {
            rngs: (0..GROUP)
                .map(|l| Rng::keyed(&[seed, (g * GROUP + l) as u64]))
                .collect(),
            left: [n as u64; GROUP],
            lanes: Lanes::keyed(&[seed, GROUP_TAG, g as u64]),
            acc: Box::new([[0; GROUP]; COLS]),
        }
    }

    fn totals(&mut self, len: usize, len_left: usize) -> [u64; GROUP] {
        let mut t = [0u64; GROUP];
        for ((t, rng), left) in t.iter_mut().zip(&mut self.rngs).zip(&mut self.left) {
            *t = block_total(rng, left, len, len_left);
        }
        t
    }
}

/// Whether this CPU and OS run the engine (`cpu::amx`).
pub fn available() -> bool {
    x86::available()
}

/// Whether the engine draws the bootstrap of (x, y): matrix tiles on this CPU, at most
/// `MAX_PAIRS` pairs, neither side constant and, with `guard` (the default choice of engine),
/// both narrow enough for 32 bits (`scale`). Pearson's and the rank correlations' bootstraps
/// ask the same question, so for a seed they share their resamples.
pub fn accepts(x: &[f64], y: &[f64], guard: bool) -> bool {
    runs_here(x, y)
        && rayon::join(|| scale(x, guard).is_some(), || scale(y, guard).is_some()) == (true, true)
}

/// `accepts` before the data's width: tiles on this CPU and a pair count the engine takes.
fn runs_here(x: &[f64], y: &[f64]) -> bool {
    x86::available() && !x.is_empty() && x.len() == y.len() && x.len() <= MAX_PAIRS
}

/// Bootstrap distribution of Pearson r (pairs resampled together) for resamples
/// `0..n_resamples` under `seed`, or `None` where the engine does not apply (`accepts` with
/// `guard`). A resample is NaN exactly where its drawn x or its drawn y are all one value.
pub fn pearson_dist(
    x: &[f64],
    y: &[f64],
    seed: u64,
    n_resamples: usize,
    guard: bool,
) -> Option<Vec<f64>> {
    // `accepts`, with each side's scale found once (by `quantize`).
    if !runs_here(x, y) {
        return None;
    }
    let (qx, qy) = rayon::join(|| quantize(x, guard), || quantize(y, guard));
    let plan = Plan::new(qx?, qy?);
    let mut dist = run(&plan, seed, n_resamples, true);
    recheck(x, y, &plan, seed, &mut dist);
    Some(dist)
}

/// Decides again, from their draws and the data as given, the resamples whose integer sums
/// found x or y constant: distinct values that the 32-bit map rounds together are still
/// distinct, and such a resample gets its r; only one whose drawn x (or y) are truly one
/// value stays NaN. Such resamples are rare, so each group holding any is redrawn by `Tree`
/// (the definition of the draws) one more time.
fn recheck(x: &[f64], y: &[f64], plan: &Plan, seed: u64, dist: &mut [f64]) {
    let groups: Vec<usize> = dist
        .chunks(GROUP)
        .enumerate()
        .filter(|(_, d)| d.iter().any(|v| v.is_nan()))
        .map(|(g, _)| g)
        .collect();
    let fixed: Vec<(usize, Vec<f64>)> = groups
        .into_par_iter()
        .map(|gi| {
            let lanes = dist.len().min((gi + 1) * GROUP) - gi * GROUP;
            let unsure: Vec<bool> = dist[gi * GROUP..][..lanes]
                .iter()
                .map(|v| v.is_nan())
                .collect();
            let mut rs = [WeightedR::default(); GROUP];
            let mut g = Group::new(seed, gi, plan.n);
            walk(
                plan.n,
                &plan.chunks,
                std::slice::from_mut(&mut g),
                |g, _, c, totals| {
                    Tree::chunk(c, totals, &mut g.lanes, |item, lane, k| {
                        if unsure.get(lane) == Some(&true) {
                            rs[lane].add(x[item], y[item], k as f64);
                        }
                    });
                },
            );
            (gi, rs[..lanes].iter().map(WeightedR::r).collect())
        })
        .collect();
    for (gi, rs) in fixed {
        for (d, r) in dist[gi * GROUP..].iter_mut().zip(rs) {
            if d.is_nan() {
                *d = r;
            }
        }
    }
}

/// The resamples of `pearson_dist` as draw counts: `eval(counts, out)` receives each group's
/// counts (lane-major: resample `l` of the group at `counts[l * n..(l + 1) * n]`) and fills
/// its values. Call only where `accepts` holds, as `pearson_dist` would.
pub fn par_counts<F>(n: usize, seed: u64, n_resamples: usize, eval: F) -> Vec<f64>
where
    F: Fn(&[u32], &mut [f64]) + Sync,
{
    let groups = n_resamples.div_ceil(GROUP);
    let chunks = chunks(n);
    let mut out = vec![0.0; groups * GROUP];
    // One group per task: a group's counts take 128 bytes per pair.
    out.par_chunks_mut(GROUP).enumerate().for_each(|(gi, out)| {
        let mut g = Group::new(seed, gi, n);
        let mut counts = vec![0u32; GROUP * n];
        let mut tiles = x86::Tiles::new();
        walk(
            n,
            &chunks,
            std::slice::from_mut(&mut g),
            |g, _, c, totals| {
                let done = tiles.as_mut().is_some_and(|t| {
                    t.chunk(c, totals, &mut g.lanes, x86::Out::Counts(n, &mut counts))
                });
                if !done {
                    Tree::chunk(c, totals, &mut g.lanes, |item, lane, k| {
                        counts[lane * n + item] += k as u32;
                    });
                }
            },
        );
        eval(&counts, out);
    });
    out.truncate(n_resamples);
    out
}

/// Runs every group; `fast` selects the vector and tile path (false: `Tree` only).
fn run(plan: &Plan, seed: u64, n_resamples: usize, fast: bool) -> Vec<f64> {
    let groups = n_resamples.div_ceil(GROUP);
    // At least two tasks per thread, so that threads finish together (results do not depend
    // on the batching: each group's draws are its own).
    let per_task = groups
        .div_ceil(2 * rayon::current_num_threads())
        .clamp(1, BATCH_GROUPS);
    let mut out = vec![0.0; groups * GROUP];
    out.par_chunks_mut(GROUP * per_task)
        .enumerate()
        .for_each(|(b, out)| {
            let first = b * per_task;
            let mut gs: Vec<Group> = (first..first + out.len() / GROUP)
                .map(|g| Group::new(seed, g, plan.n))
                .collect();
            let mut tiles = if fast { x86::Tiles::new() } else { None };
            walk(plan.n, &plan.chunks, &mut gs, |g, ci, c, totals| {
                let a = plan.tiles(ci);
                let done = tiles.as_mut().is_some_and(|t| {
                    t.chunk(c, totals, &mut g.lanes, x86::Out::Sums(a, &mut g.acc))
                });
                if !done {
                    Tree::chunk_sums(plan, c, totals, &mut g.lanes, &mut g.acc);
                }
            });
            for (g, o) in gs.iter().zip(out.chunks_mut(GROUP)) {
                for (lane, v) in o.iter_mut().enumerate() {
                    *v = r_from_acc(&g.acc, lane, plan.n);
                }
            }
        });
    out.truncate(n_resamples);
    out
}

/// Walks the chunks once for a batch of groups, calling `draw(group, chunk index, chunk,
/// totals)` for each group in each chunk with the group's chunk totals.
fn walk<F>(n: usize, chunks: &[Chunk], gs: &mut [Group], mut draw: F)
where
    F: FnMut(&mut Group, usize, Chunk, &[u64; GROUP]),
{
    let mut len_left = n;
    for (ci, &c) in chunks.iter().enumerate() {
        let len = 1usize << c.bits;
        for g in gs.iter_mut() {
            let totals = g.totals(len, len_left);
            draw(g, ci, c, &totals);
        }
        len_left -= len;
    }
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod x86 {
    //! The AVX-512 count tree and the AMX tile products.

    use super::{pairs, Acc, Chunk, Lanes, GROUP, MIN_ROUNDS, NODE_BITS, PAIR_BYTES};

    /// What a chunk's draws become.
    pub enum Out<'a> {
        /// Tile products with the chunk's A tiles, added to the sums.
        Sums(&'a [u8], &'a mut Acc),
        /// Counts per item, lane-major over `n` items, added to.
        Counts(usize, &'a mut [u32]),
    }
    use std::arch::asm;
    use std::arch::x86_64::*;

    /// Whether this CPU and OS run the engine.
    pub fn available() -> bool {
        crate::stats::cpu::amx()
    }

    /// The tile configuration (palette 1): eight tiles of 16 rows of 64 bytes.
    #[repr(C, align(64))]
    struct Config {
        palette: u8,
        start_row: u8,
        reserved: [u8; 14],
        bytes_per_row: [u16; 16],
        rows: [u8; 16],
    }

    /// The tiles configured on this thread, released on drop; with a buffer for the count rows
    /// of one pair.
    pub struct Tiles {
        rows: Box<[u8; 2 * PAIR_BYTES]>,
        /// Largest count the vector path takes on the 16-bit and the 8-bit levels (lower in
        /// tests, to exercise the fallback).
        pub(super) caps: (u64, u64),
    }

    impl Tiles {
        /// Configures the tiles, or `None` where the engine is unavailable.
        pub fn new() -> Option<Self> {
            if !available() {
                return None;
            }
            let mut c = Config {
                palette: 1,
                start_row: 0,
                reserved: [0; 14],
                bytes_per_row: [0; 16],
                rows: [0; 16],
            };
            for t in 0..8 {
                c.bytes_per_row[t] = 64;
                c.rows[t] = 16;
            }
            // SAFETY: `available` checked the CPU and the OS grant; the configuration is valid.
            unsafe { asm!("ldtilecfg [{}]", in(reg) &c as *const Config, options(nostack)) };
            Some(Tiles {
                rows: Box::new([0; 2 * PAIR_BYTES]),
                caps: (u16::MAX as u64, u8::MAX as u64),
            })
        }

        /// Draws chunk `c` for one group with the vector tree and adds its tile products to
        /// `acc`; false (nothing consumed or added) where a count does not fit its lanes.
        pub fn chunk(
            &mut self,
            c: Chunk,
            totals: &[u64; GROUP],
            lanes: &mut Lanes,
            out: Out,
        ) -> bool {
            let cap = if c.bits > NODE_BITS {
                self.caps.0
            } else {
                self.caps.1
            };
            if totals.iter().any(|&t| t > cap) {
                return false;
            }
            // SAFETY: `Tiles` exists only where `available` holds, which covers the features.
            unsafe { chunk_avx512(c, totals, lanes, out, &mut self.rows, self.caps.1) }
        }
    }

    impl Drop for Tiles {
        fn drop(&mut self) {
            // SAFETY: the tiles were configured by `new`.
            unsafe { asm!("tilerelease", options(nostack)) };
        }
    }

    /// One xoshiro256++ step of the eight lanes (as `Lanes::step`).
    macro_rules! step {
        ($s:expr) => {{
            let s = &mut $s;
            let res = _mm512_add_epi64(_mm512_rol_epi64::<23>(_mm512_add_epi64(s[0], s[3])), s[0]);
            let t = _mm512_slli_epi64::<17>(s[1]);
            let (s0, s1, s2, s3) = (s[0], s[1], s[2], s[3]);
            s[1] = _mm512_ternarylogic_epi64::<0x96>(s1, s2, s0);
            s[0] = _mm512_ternarylogic_epi64::<0x96>(s0, s3, s1);
            s[2] = _mm512_ternarylogic_epi64::<0x96>(s2, s0, t);
            s[3] = _mm512_rol_epi64::<45>(_mm512_xor_si512(s3, s1));
            res
        }};
    }

    /// The smallest of 32 u16 lanes.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx2,sse4.1")]
    unsafe fn min_u16(v: __m512i) -> u64 {
        let a = _mm256_min_epu16(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64::<1>(v));
        let b = _mm_min_epu16(_mm256_castsi256_si128(a), _mm256_extracti128_si256::<1>(a));
        _mm_extract_epi16::<0>(_mm_minpos_epu16(b)) as u64
    }

    /// `Tree::split` on 32 u16 lanes: rounds in which every lane takes all 16 bits need no
    /// mask, then masked rounds until no lane has bits left.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512bitalg,avx2,sse4.1")]
    unsafe fn split16(c: __m512i, s: &mut [__m512i; 4]) -> (__m512i, __m512i) {
        let full = min_u16(c) / 16;
        let mut left = _mm512_setzero_si512();
        for _ in 0..full {
            left = _mm512_add_epi16(left, _mm512_popcnt_epi16(step!(*s)));
        }
        let one = _mm512_set1_epi16(1);
        let sixteen = _mm512_set1_epi16(16);
        let mut rem = _mm512_sub_epi16(c, _mm512_set1_epi16((full * 16) as i16));
        while _mm512_test_epi16_mask(rem, rem) != 0 {
            let m = _mm512_min_epu16(rem, sixteen);
            // A shift by 16 gives 0, so the mask of 16 bits is all ones.
            let mask = _mm512_sub_epi16(_mm512_sllv_epi16(one, m), one);
            left = _mm512_add_epi16(left, _mm512_popcnt_epi16(_mm512_and_si512(step!(*s), mask)));
            rem = _mm512_sub_epi16(rem, m);
        }
        (left, _mm512_sub_epi16(c, left))
    }

    /// `Tree::split` on 64 u8 lanes, at least `R` rounds (a constant, so that the rounds are
    /// unrolled: a loop whose trip count changes from level to level mispredicts its exit).
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512bitalg,avx512vbmi")]
    unsafe fn split8<const R: usize, const SMALL: bool>(
        c: __m512i,
        s: &mut [__m512i; 4],
    ) -> (__m512i, __m512i) {
        let masks = _mm512_broadcast_i32x4(_mm_setr_epi8(
            0, 1, 3, 7, 15, 31, 63, 127, -1, -1, -1, -1, -1, -1, -1, -1,
        ));
        // For counts below 64, one byte permute maps the count itself to its mask.
        let masks64: [u8; 64] = std::array::from_fn(|i| ((1u16 << i.min(8)) - 1) as u8);
        let masks64 = _mm512_loadu_si512(masks64.as_ptr().cast());
        let eight = _mm512_set1_epi8(8);
        let mut rem = c;
        let mut left = _mm512_setzero_si512();
        macro_rules! round {
            () => {{
                let mask = if SMALL {
                    _mm512_permutexvar_epi8(rem, masks64)
                } else {
                    _mm512_shuffle_epi8(masks, _mm512_min_epu8(rem, eight))
                };
                left = _mm512_add_epi8(left, _mm512_popcnt_epi8(_mm512_and_si512(step!(*s), mask)));
                rem = _mm512_subs_epu8(rem, eight);
            }};
        }
        for _ in 0..R {
            round!();
        }
        while _mm512_test_epi8_mask(rem, rem) != 0 {
            round!();
        }
        (left, _mm512_sub_epi8(c, left))
    }

    /// Splits `n` nodes of `from` (8-bit lanes, at least `R` rounds each; `SMALL`: every count
    /// below 64) into `2n` of `to`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512bitalg,avx512vbmi")]
    unsafe fn level8<const R: usize, const SMALL: bool>(
        from: &[__m512i],
        to: &mut [__m512i],
        s: &mut [__m512i; 4],
    ) {
        for (i, &c) in from.iter().enumerate() {
            let (l, r) = split8::<R, SMALL>(c, s);
            to[2 * i] = l;
            to[2 * i + 1] = r;
        }
    }

    /// Splits `n` nodes of `from` (16-bit lanes) into `2n` of `to`, in order.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512bitalg,avx2,sse4.1")]
    unsafe fn level16(from: &[__m512i], to: &mut [__m512i], s: &mut [__m512i; 4]) {
        for (i, &c) in from.iter().enumerate() {
            let (l, r) = split16(c, s);
            to[2 * i] = l;
            to[2 * i + 1] = r;
        }
    }

    /// Adds one pair's tile products, A tiles at `a` and count rows at `rows`, to tmm0..3.
    #[inline]
    unsafe fn products(a: *const u8, rows: *const u8) {
        for g in 0..2 {
            let (ag, bg) = (a.add(g * 2048), rows.add(g * 2048));
            // C(h, c) += A(h) · B(c): tmm0..3 are (0,0), (1,0), (0,1), (1,1).
            asm!(
                "tileloadd tmm4, [{a0} + {s}*1]",
                "tileloadd tmm5, [{a1} + {s}*1]",
                "tileloadd tmm6, [{b0} + {s}*1]",
                "tileloadd tmm7, [{b1} + {s}*1]",
                "tdpbuud tmm0, tmm4, tmm6",
                "tdpbuud tmm1, tmm5, tmm6",
                "tdpbuud tmm2, tmm4, tmm7",
                "tdpbuud tmm3, tmm5, tmm7",
                a0 = in(reg) ag,
                a1 = in(reg) ag.add(1024),
                b0 = in(reg) bg,
                b1 = in(reg) bg.add(1024),
                s = in(reg) 64usize,
                options(nostack),
            );
        }
    }

    /// `Tiles::chunk`'s work. The lanes' state lives in registers and is stored back only on
    /// success, so a chunk handed back (a node count above `cap8`) leaves `lanes` as it was.
    #[target_feature(enable = "avx512f,avx512bw,avx512bitalg,avx512vbmi,avx2,sse4.1")]
    unsafe fn chunk_avx512(
        c: Chunk,
        totals: &[u64; GROUP],
        lanes: &mut Lanes,
        mut out: Out,
        rows: &mut [u8; 2 * PAIR_BYTES],
        cap8: u64,
    ) -> bool {
        let p = lanes.s.as_ptr();
        let mut s: [__m512i; 4] = [0, 1, 2, 3].map(|k| _mm512_loadu_si512(p.add(k).cast()));
        let mut t16 = [0u16; GROUP];
        for (d, &t) in t16.iter_mut().zip(totals) {
            *d = t as u16;
        }
        let top = _mm512_loadu_si512(t16.as_ptr().cast());
        // The 64-item nodes (or the chunk itself, when smaller), as u16 lanes.
        let mut buf = [[_mm512_setzero_si512(); 64]; 2];
        let mut n = 1;
        buf[0][0] = top;
        let mut cur = 0;
        if c.bits > NODE_BITS {
            for _ in NODE_BITS..c.bits {
                let (x, y) = buf.split_at_mut(1);
                let (from, to) = if cur == 0 {
                    (&x[0], &mut y[0])
                } else {
                    (&y[0], &mut x[0])
                };
                level16(&from[..n], &mut to[..2 * n], &mut s);
                n *= 2;
                cur ^= 1;
            }
        }
        let nodes = &buf[cur][..n];
        let cap = _mm512_set1_epi16(cap8 as i16);
        if nodes.iter().any(|&v| _mm512_cmpgt_epu16_mask(v, cap) != 0) {
            return false;
        }
        let idx0: [u8; 64] = std::array::from_fn(|b| (b / 4 + 32 * (b % 4)) as u8);
        let idx0 = _mm512_loadu_si512(idx0.as_ptr().cast());
        let idx1 = _mm512_add_epi8(idx0, _mm512_set1_epi8(16));
        let below64 = _mm512_set1_epi8(63);
        let mut last = 0;
        let mut leaves = [[_mm512_setzero_si512(); 64]; 2];
        for (j, pair) in pairs(c).into_iter().enumerate() {
            if let Out::Sums(a, _) = out {
                // This pair's A tiles are read after the next pair's tree: bring them to L1
                // now, as tile loads from L2 hold up the pipeline.
                let aj = a.as_ptr().add(j * PAIR_BYTES);
                for line in 0..PAIR_BYTES / 64 {
                    _mm_prefetch::<_MM_HINT_T0>(aj.add(line * 64).cast());
                }
            }
            let lo = _mm512_cvtepi16_epi8(nodes[2 * j]);
            let hi = nodes
                .get(2 * j + 1)
                .map_or(_mm256_setzero_si256(), |&v| _mm512_cvtepi16_epi8(v));
            leaves[0][0] = _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi);
            let mut m = 1;
            let mut cur = 0;
            let mut small = false;
            for bits in (1..=pair.size.trailing_zeros()).rev() {
                let (x, y) = leaves.split_at_mut(1);
                let (from, to) = if cur == 0 {
                    (&x[0], &mut y[0])
                } else {
                    (&y[0], &mut x[0])
                };
                let (from, to) = (&from[..m], &mut to[..2 * m]);
                // Counts only shrink down the tree: once a level's are all below 64, so are
                // those of every level under it.
                small = small
                    || from
                        .iter()
                        .all(|&v| _mm512_cmpgt_epu8_mask(v, below64) == 0);
                macro_rules! level {
                    ($b:literal) => {
                        if small {
                            level8::<{ MIN_ROUNDS[$b] }, true>(from, to, &mut s)
                        } else {
                            level8::<{ MIN_ROUNDS[$b] }, false>(from, to, &mut s)
                        }
                    };
                }
                match bits {
                    6 => level!(6),
                    5 => level!(5),
                    4 => level!(4),
                    3 => level!(3),
                    2 => level!(2),
                    _ => level!(1),
                }
                m *= 2;
                cur ^= 1;
            }
            let leaves = &leaves[cur];
            let a = match &mut out {
                Out::Counts(n, counts) => {
                    let mut bytes = [0u8; 64];
                    for (i, &leaf) in leaves[..m].iter().enumerate() {
                        _mm512_storeu_si512(bytes.as_mut_ptr().cast(), leaf);
                        for (half, item) in pair.halves(i) {
                            for lane in 0..GROUP {
                                counts[lane * *n + item] += bytes[half * GROUP + lane] as u32;
                            }
                        }
                    }
                    continue;
                }
                Out::Sums(a, _) => a,
            };
            // Count rows: quad q interleaves leaves 2q and 2q + 1 by resample (see `Pair::item`).
            let rows_j = rows.as_mut_ptr().add((j % 2) * PAIR_BYTES);
            for q in 0..m.div_ceil(2) {
                let l = leaves[2 * q];
                let r = if 2 * q + 1 < m {
                    leaves[2 * q + 1]
                } else {
                    _mm512_setzero_si512()
                };
                let o = rows_j.add((q / 16) * 2048 + (q % 16) * 64);
                _mm512_storeu_si512(o.cast(), _mm512_permutex2var_epi8(l, idx0, r));
                _mm512_storeu_si512(o.add(1024).cast(), _mm512_permutex2var_epi8(l, idx1, r));
            }
            for q in m.div_ceil(2)..32 {
                let o = rows_j.add((q / 16) * 2048 + (q % 16) * 64);
                _mm512_storeu_si512(o.cast(), _mm512_setzero_si512());
                _mm512_storeu_si512(o.add(1024).cast(), _mm512_setzero_si512());
            }
            // The products of the previous pair, whose rows have long left the store buffer:
            // tile loads of rows just stored would wait for those stores to drain.
            if j > 0 {
                products(
                    a.as_ptr().add((j - 1) * PAIR_BYTES),
                    rows.as_ptr().add(((j - 1) % 2) * PAIR_BYTES),
                );
            }
            last = j;
        }
        if let Out::Sums(a, acc) = out {
            products(
                a.as_ptr().add(last * PAIR_BYTES),
                rows.as_ptr().add((last % 2) * PAIR_BYTES),
            );
            let mut c4 = [[0i32; 256]; 4];
            asm!(
                "tilestored [{c0} + {s}*1], tmm0",
                "tilestored [{c1} + {s}*1], tmm1",
                "tilestored [{c2} + {s}*1], tmm2",
                "tilestored [{c3} + {s}*1], tmm3",
                "tilezero tmm0",
                "tilezero tmm1",
                "tilezero tmm2",
                "tilezero tmm3",
                c0 = in(reg) c4[0].as_mut_ptr(),
                c1 = in(reg) c4[1].as_mut_ptr(),
                c2 = in(reg) c4[2].as_mut_ptr(),
                c3 = in(reg) c4[3].as_mut_ptr(),
                s = in(reg) 64usize,
                options(nostack),
            );
            for (t, tile) in c4.iter().enumerate() {
                let (h, half) = (t % 2, t / 2);
                for row in 0..16 {
                    for n in 0..16 {
                        // Per chunk a sum is at most 65535 draws × 255, so it fits an i32.
                        acc[16 * h + row][16 * half + n] += tile[row * 16 + n] as u32 as u64;
                    }
                }
            }
        }
        let q = lanes.s.as_mut_ptr();
        for (k, v) in s.into_iter().enumerate() {
            _mm512_storeu_si512(q.add(k).cast(), v);
        }
        true
    }
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
mod x86 {
    use super::{Acc, Chunk, Lanes, GROUP};

    pub enum Out<'a> {
        Sums(&'a [u8], &'a mut Acc),
        Counts(usize, &'a mut [u32]),
    }

    pub fn available() -> bool {
        false
    }

    pub struct Tiles {
        pub(super) caps: (u64, u64),
    }

    impl Tiles {
        pub fn new() -> Option<Self> {
            None
        }

        pub fn chunk(&mut self, _: Chunk, _: &[u64; GROUP], _: &mut Lanes, _: Out) -> bool {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic test data: a uniform value in [0, 1) per index.
    fn unit(seed: u64, i: usize) -> f64 {
        let mut r = Rng::keyed(&[seed, i as u64]);
        r.next_u64() as f64 / 2f64.powi(64)
    }

    fn data(n: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
        let x: Vec<f64> = (0..n).map(|i| unit(seed, i)).collect();
        let y = x
            .iter()
            .enumerate()
            .map(|(i, a)| 0.6 * a + unit(seed + 1, i))
            .collect();
        (x, y)
    }

    const SIZES: [usize; 16] = [
        3, 5, 63, 64, 65, 100, 127, 128, 129, 300, 1000, 4095, 4096, 4097, 8193, 20000,
    ];

    #[test]
    fn chunks_and_pairs_cover_every_item_once() {
        for n in SIZES.into_iter().chain([1, 2, 12345]) {
            let cs = chunks(n);
            let mut seen = vec![0u32; n];
            let mut next = 0;
            for c in cs {
                assert_eq!(c.start, next);
                next += 1 << c.bits;
                for p in pairs(c) {
                    for m in 0..32 {
                        for t in 0..4 {
                            if let Some(i) = p.item(m, t) {
                                assert!((c.start..c.start + (1 << c.bits)).contains(&i));
                                seen[i] += 1;
                            }
                        }
                    }
                }
            }
            assert_eq!(next, n);
            assert!(seen.iter().all(|&k| k == 1), "n = {n}");
        }
    }

    #[test]
    #[cfg_attr(not(vhframe_cpu_amx), ignore = "CPU lacks AMX")]
    fn tiles_match_the_lane_by_lane_tree() {
        assert!(x86::available(), "built as having AMX: rebuild here");
        for (k, n) in SIZES.into_iter().enumerate() {
            let (x, y) = data(n, k as u64);
            let plan = Plan::new(quantize(&x, true).unwrap(), quantize(&y, true).unwrap());
            let fast = run(&plan, 9, 70, true);
            let slow = run(&plan, 9, 70, false);
            assert_eq!(fast.len(), 70);
            let bits = |v: &[f64]| v.iter().map(|a| a.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fast), bits(&slow), "n = {n}");
        }
    }

    #[test]
    #[cfg_attr(not(vhframe_cpu_amx), ignore = "CPU lacks AMX")]
    fn overflowing_lanes_fall_back_to_the_same_draws() {
        let mut tiles = x86::Tiles::new().expect("built as having AMX: rebuild here");
        // Caps this low send most chunks, at either check, back to the reference tree.
        tiles.caps = (4000, 70);
        for n in [100, 4096, 9000] {
            let (x, y) = data(n, 3);
            let plan = Plan::new(quantize(&x, true).unwrap(), quantize(&y, true).unwrap());
            let mut fell_back = 0;
            let mut sums = |fast: bool| {
                let mut g = Group::new(5, 0, n);
                walk(
                    n,
                    &plan.chunks,
                    std::slice::from_mut(&mut g),
                    |g, ci, c, totals| {
                        let a = plan.tiles(ci);
                        if !(fast
                            && tiles.chunk(c, totals, &mut g.lanes, x86::Out::Sums(a, &mut g.acc)))
                        {
                            fell_back += fast as usize;
                            Tree::chunk_sums(&plan, c, totals, &mut g.lanes, &mut g.acc);
                        }
                    },
                );
                g.acc
            };
            assert_eq!(sums(true), sums(false), "n = {n}");
            assert!(fell_back > 0, "n = {n}: the fallback never ran");
        }
    }

    /// Counts of every item for `lanes` resamples (one group per 32).
    fn counts(n: usize, seed: u64, groups: usize) -> Vec<Vec<u64>> {
        let mut out = Vec::new();
        for gi in 0..groups {
            let mut g = Group::new(seed, gi, n);
            let mut k = vec![vec![0u64; n]; GROUP];
            walk(
                n,
                &chunks(n),
                std::slice::from_mut(&mut g),
                |g, _, c, totals| {
                    Tree::chunk(c, totals, &mut g.lanes, |item, lane, v| k[lane][item] += v);
                },
            );
            out.extend(k);
        }
        out
    }

    #[test]
    fn counts_are_multinomial() {
        for n in [5usize, 70, 300] {
            let draws = counts(n, 11, 400);
            let r = draws.len() as f64;
            assert!(draws.iter().all(|k| k.iter().sum::<u64>() == n as u64));
            // Each count is Binomial(n, 1/n): mean 1, variance 1 - 1/n; two counts covary by
            // -1/n. Bounds are about five standard errors.
            let var = 1.0 - 1.0 / n as f64;
            for i in [0, 1, n / 2, n - 1] {
                let m = draws.iter().map(|k| k[i] as f64).sum::<f64>() / r;
                let v = draws.iter().map(|k| (k[i] as f64 - m).powi(2)).sum::<f64>() / r;
                assert!(
                    (m - 1.0).abs() < 5.0 * (var / r).sqrt(),
                    "n = {n}, item {i}: mean {m}"
                );
                assert!(
                    (v - var).abs() < 5.0 * (2.0 / r).sqrt(),
                    "n = {n}, item {i}: var {v}"
                );
                let j = (i + 1) % n;
                let c = draws
                    .iter()
                    .map(|k| (k[i] as f64 - 1.0) * (k[j] as f64 - 1.0))
                    .sum::<f64>()
                    / r;
                assert!(
                    (c + 1.0 / n as f64).abs() < 5.0 * (1.0 / r).sqrt(),
                    "n = {n}: cov {c}"
                );
            }
        }
    }

    #[test]
    #[cfg_attr(not(vhframe_cpu_amx), ignore = "CPU lacks AMX")]
    fn counts_are_the_draws_of_the_sums() {
        assert!(x86::available(), "built as having AMX: rebuild here");
        for n in [5, 129, 4097, 9000] {
            let (x, y) = data(n, 6);
            let plan = Plan::new(quantize(&x, true).unwrap(), quantize(&y, true).unwrap());
            let r = run(&plan, 13, 40, true);
            let seen = std::sync::Mutex::new(Vec::new());
            // One thread: the groups' counts arrive in order.
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build()
                .unwrap();
            let from_counts = pool.install(|| {
                par_counts(n, 13, 40, |counts, out| {
                    seen.lock()
                        .unwrap()
                        .extend(counts.chunks(n).map(|c| c.to_vec()));
                    for (o, k) in out.iter_mut().zip(counts.chunks(n)) {
                        let k: Vec<f64> = k.iter().map(|&v| v as f64).collect();
                        *o = weighted_r(&x, &y, &k);
                    }
                })
            });
            for (a, b) in r.iter().zip(&from_counts) {
                assert!((a - b).abs() < 1e-9, "n = {n}: {a} vs {b}");
            }
            // The vector path's counts are the reference tree's, exactly.
            let got: Vec<Vec<u64>> = seen
                .into_inner()
                .unwrap()
                .iter()
                .map(|c| c.iter().map(|&v| v as u64).collect())
                .collect();
            let want = counts(n, 13, 2);
            assert_eq!(got, want, "n = {n}");
        }
    }

    /// Pearson r of (x, y) weighted by counts `k`, in floating point.
    fn weighted_r(x: &[f64], y: &[f64], k: &[f64]) -> f64 {
        let w = |f: &dyn Fn(usize) -> f64| (0..x.len()).map(|i| k[i] * f(i)).sum::<f64>();
        let n = k.iter().sum::<f64>();
        let (mx, my) = (w(&|i| x[i]) / n, w(&|i| y[i]) / n);
        let sxx = w(&|i| (x[i] - mx).powi(2));
        let syy = w(&|i| (y[i] - my).powi(2));
        let sxy = w(&|i| (x[i] - mx) * (y[i] - my));
        sxy / (sxx * syy).sqrt()
    }

    #[test]
    fn r_is_that_of_the_drawn_pairs() {
        // r must be the weighted r of the drawn pairs, up to the rounding of the data to 32
        // bits (far below 1e-9 here).
        let n = 700;
        let x: Vec<f64> = (0..n).map(|i| ((i * 37) % 255) as f64).collect();
        let y: Vec<f64> = (0..n)
            .map(|i| ((i * 11) % 255 + (i * 37) % 255 / 2) as f64)
            .collect();
        let plan = Plan::new(quantize(&x, true).unwrap(), quantize(&y, true).unwrap());
        let got = run(&plan, 21, 64, false);
        for (b, k) in counts(n, 21, 2).iter().enumerate() {
            let w = |f: &dyn Fn(usize) -> f64| (0..n).map(|i| k[i] as f64 * f(i)).sum::<f64>();
            let nn = n as f64;
            let (sx, sy) = (w(&|i| x[i]), w(&|i| y[i]));
            let sxx = w(&|i| x[i] * x[i]) - sx * sx / nn;
            let syy = w(&|i| y[i] * y[i]) - sy * sy / nn;
            let sxy = w(&|i| x[i] * y[i]) - sx * sy / nn;
            let want = sxy / (sxx * syy).sqrt();
            assert!(
                (got[b] - want).abs() < 1e-9,
                "resample {b}: {} vs {want}",
                got[b]
            );
        }
    }

    #[test]
    fn quantized_r_is_close_to_full_precision() {
        let (x, y) = data(5000, 4);
        let qx = quantize(&x, true).unwrap();
        let qy = quantize(&y, true).unwrap();
        let a: Vec<f64> = qx.iter().map(|&v| v as f64).collect();
        let b: Vec<f64> = qy.iter().map(|&v| v as f64).collect();
        let r = super::super::corr::pearson_r(&x, &y);
        let rq = super::super::corr::pearson_r(&a, &b);
        assert!((r - rq).abs() < 1e-9, "{r} vs {rq}");
    }

    #[test]
    fn central_sd_trims_one_percent_each_side() {
        let v: Vec<f64> = (0..1000).rev().map(|i| i as f64).collect();
        // Values 10..=989 are kept: 980 consecutive integers.
        let want = ((980f64 * 980.0 - 1.0) / 12.0).sqrt();
        assert!((central_sd(&v) - want).abs() < 1e-9, "{}", central_sd(&v));
        assert_eq!(central_sd(&[3.0, 1.0, 2.0]), (2f64 / 3.0).sqrt());
    }

    #[test]
    fn the_engine_runs_exactly_where_it_accepts() {
        let (x, y) = data(1000, 1);
        let mut far = x.clone();
        far[3] = 1e9;
        for (x, y, ok) in [(&x, &y, true), (&far, &y, false), (&y, &far, false)] {
            assert_eq!(accepts(x, y, true), ok && x86::available());
            assert_eq!(
                pearson_dist(x, y, 1, 10, true).is_some(),
                accepts(x, y, true)
            );
            // Forced, the engine takes wide data too.
            assert_eq!(accepts(x, y, false), x86::available());
            assert_eq!(pearson_dist(x, y, 1, 10, false).is_some(), x86::available());
        }
    }

    #[test]
    fn wide_or_constant_data_are_declined() {
        let mut x: Vec<f64> = (0..1000).map(|i| (i % 10) as f64).collect();
        assert!(quantize(&x, true).is_some());
        // One outlier inflates the plain standard deviation enough to pass, not the central one.
        x[0] = 1e6;
        assert!(quantize(&x, true).is_none());
        assert!(quantize(&x, false).is_some());
        x[0] = 1e3;
        assert!(quantize(&x, true).is_some());
        assert!(quantize(&[2.0; 10], true).is_none());
        assert!(quantize(&[2.0; 10], false).is_none());
    }

    /// Pearson r of (x, y) drawn `k[i]` times each, two-pass, or NaN where the drawn x (or
    /// y) are all one value: the reference for the rechecked resamples.
    fn reference_r(x: &[f64], y: &[f64], k: &[u64]) -> f64 {
        let drawn: Vec<usize> = (0..x.len()).filter(|&i| k[i] > 0).collect();
        let one = |v: &[f64]| drawn.iter().all(|&i| v[i] == v[drawn[0]]);
        if one(x) || one(y) {
            return f64::NAN;
        }
        let w = |f: &dyn Fn(usize) -> f64| drawn.iter().map(|&i| k[i] as f64 * f(i)).sum::<f64>();
        let n = w(&|_| 1.0);
        let (mx, my) = (w(&|i| x[i]) / n, w(&|i| y[i]) / n);
        let sxy = w(&|i| (x[i] - mx) * (y[i] - my));
        sxy / (w(&|i| (x[i] - mx).powi(2)) * w(&|i| (y[i] - my).powi(2))).sqrt()
    }

    /// Runs the engine's rule for (x, y) on the reference tree (no tiles needed) and checks
    /// every resample against `reference_r` of its counts; returns how many were NaN before
    /// and after `recheck`.
    fn check_recheck(x: &[f64], y: &[f64], b: usize) -> (usize, usize) {
        let plan = Plan::new(quantize(x, false).unwrap(), quantize(y, false).unwrap());
        let mut dist = run(&plan, 17, b, false);
        let nan = |d: &[f64]| d.iter().filter(|v| v.is_nan()).count();
        let before = nan(&dist);
        recheck(x, y, &plan, 17, &mut dist);
        let k = counts(x.len(), 17, b.div_ceil(GROUP));
        for (i, (&r, k)) in dist.iter().zip(&k).enumerate() {
            let want = reference_r(x, y, k);
            assert_eq!(r.is_nan(), want.is_nan(), "resample {i}: {r} vs {want}");
            assert!(
                r.is_nan() || (r - want).abs() < 1e-9,
                "resample {i}: {r} vs {want}"
            );
        }
        (before, nan(&dist))
    }

    #[test]
    fn constant_resamples_are_exactly_those_with_one_drawn_value() {
        // One 1 among zeros: about e^-1 of the resamples miss it, and those are constant in
        // x; with an offset of 1e9 too (the data as given decide, not their 32-bit image).
        let n = 301;
        let y: Vec<f64> = (0..n).map(|i| i as f64).collect();
        for offset in [0.0, 1e9] {
            let mut x = vec![offset; n];
            x[n - 1] = offset + 1.0;
            let (before, after) = check_recheck(&x, &y, 200);
            assert_eq!(before, after, "offset {offset}");
            assert!(
                (40..110).contains(&after),
                "offset {offset}: {after} of 200"
            );
        }
        // Values below a step of the 32-bit map (2^-32 of the range) share the image of 0: a
        // resample that misses the 1 is constant there, but not in the data, and gets its r.
        let mut x: Vec<f64> = (0..n)
            .map(|i| (1 + i % 2) as f64 * 2f64.powi(-40))
            .collect();
        x[0] = 0.0;
        x[1] = 1.0;
        let q = quantize(&x, false).unwrap();
        assert!(q[0] == q[2] && q[2] == q[3]);
        let (before, after) = check_recheck(&x, &y, 200);
        assert!(before > 40 && after == 0, "{before} then {after} of 200");
    }

    #[test]
    fn same_results_for_any_thread_count() {
        let (x, y) = data(5000, 8);
        let run_in = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let plan = Plan::new(quantize(&x, true).unwrap(), quantize(&y, true).unwrap());
                run(&plan, 2, 300, true)
            })
        };
        assert_eq!(run_in(1), run_in(3));
    }
}

#[cfg(test)]
mod timing {
    use super::*;
    use std::time::Instant;

    /// `cargo test --release time_tiles -- --ignored --nocapture` (env R: resamples).
    #[test]
    #[ignore]
    fn time_tiles() {
        let n = 1 << 20;
        let r: usize = std::env::var("R")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(512);
        let x: Vec<f64> = (0..n).map(|i| ((i * 7919) % 10007) as f64).collect();
        let y: Vec<f64> = (0..n)
            .map(|i| ((i * 104729) % 10009) as f64 + x[i] * 0.1)
            .collect();
        let t = Instant::now();
        let plan = Plan::new(quantize(&x, true).unwrap(), quantize(&y, true).unwrap());
        eprintln!("plan: {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        for _ in 0..3 {
            let t = Instant::now();
            pool.install(|| run(&plan, 1, r, true));
            let el = t.elapsed().as_secs_f64();
            eprintln!("run, 1 thread: {:.3} ns/draw", el / (n * r) as f64 * 1e9);
        }
    }
}
