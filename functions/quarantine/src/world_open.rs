//! Whether a security group is open to the world on a sensitive port, and which rules to revoke
//! so that it no longer is. Pure: no AWS calls.
//!
//! A group is open to the world on a port when its ingress rules on that port (protocol and
//! port, or all traffic), together, let in at least the configured share of the public address
//! space of one family ([`crate::exposure`]). Not only `0.0.0.0/0`: `0.0.0.0/1` plus
//! `128.0.0.0/1`, or many `/8`s added over several calls, are the internet too. So the rules an
//! `AuthorizeSecurityGroupIngress` call added are judged with the group's rules already there.
//!
//! A rule whose source is a customer-managed prefix list lets in the list's entries, read from
//! EC2 before judging (an AWS-managed list, `com.amazonaws.*`, holds AWS's service ranges and
//! lets in no one's public traffic of its own): a list holding `0.0.0.0/0` is the world.
//!
//! What is revoked: the largest contributors first (on a tie, a rule this call added before
//! one that was there), until what is left lets in less than the share. The smallest change
//! that closes the port to the world: an office's `/24` next to an attacker's `/1`s stays.

use std::collections::BTreeMap;

use crate::exposure::{self, Block, Family, Share};
use crate::ingress::OpenedRule;
use crate::settings::{PortEntry, SensitivePorts, port_name};

/// What a sensitive port is judged on: TCP or UDP, and one port or every port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Probe {
    /// `tcp` or `udp`.
    pub protocol: &'static str,
    /// `None`: every port (the `all` entry of the sensitive ports).
    pub port: Option<u16>,
}

impl Probe {
    /// `tcp 22 (SSH)`, `every udp port`.
    pub fn describe(&self) -> String {
        match self.port {
            Some(p) => match port_name(p) {
                Some(name) => format!("{} {p} ({name})", self.protocol),
                None => format!("{} {p}", self.protocol),
            },
            None => format!("every {} port", self.protocol),
        }
    }
}

/// One family's view of a sensitive port that is open to the world.
#[derive(Debug, Clone, PartialEq)]
pub struct Exposure {
    /// The ports judged, the first one named in reports.
    pub probes: Vec<Probe>,
    pub family: Family,
    /// The share of the family's public space the rules let in, together.
    pub share: f64,
    /// The rules that let the public in on those ports, largest first; whether this call added
    /// each.
    pub rules: Vec<(OpenedRule, bool)>,
    /// The ones to revoke.
    pub revoke: Vec<OpenedRule>,
}

impl Exposure {
    /// `tcp 22 (SSH) from 0.0.0.0/1, 128.0.0.0/1 (already there): 100% of the public IPv4 space`.
    pub fn describe(&self) -> String {
        let every: Vec<&str> = self
            .probes
            .iter()
            .filter(|p| p.port.is_none())
            .map(|p| p.protocol)
            .collect();
        let what = match self.probes.as_slice() {
            [] => "a sensitive port".to_string(),
            _ if self.rules.iter().all(|(r, _)| r.protocol == "-1") => "all traffic".to_string(),
            _ if !every.is_empty() => format!("every {} port", every.join(" and ")),
            [one] => one.describe(),
            [first, rest @ ..] => format!(
                "{} (and {} more sensitive port{})",
                first.describe(),
                rest.len(),
                if rest.len() > 1 { "s" } else { "" }
            ),
        };
        let from: Vec<String> = self
            .rules
            .iter()
            .map(|(r, opened)| {
                if *opened {
                    r.source()
                } else {
                    format!("{} (already there)", r.source())
                }
            })
            .collect();
        format!(
            "{what} from {}: {} of the public {} space",
            from.join(", "),
            exposure::percent(self.share),
            self.family.name()
        )
    }
}

/// The entries (CIDRs) of each customer-managed prefix list read, by id. A list not here (AWS's,
/// gone, unreadable) lets in no address range of its own.
pub type PrefixEntries = BTreeMap<String, Vec<String>>;

/// A rule opened by the call (`opened`) or already on the group, with its addresses of one
/// family (a prefix list's entries may be many).
#[derive(Debug, Clone)]
struct Candidate {
    rule: OpenedRule,
    opened: bool,
    family: Family,
    blocks: Vec<Block>,
    /// Its own share of the public space.
    share: f64,
}

/// Every sensitive port the call's rules open to the world, judged with the group's current
/// ingress rules (`None` when they could not be read: the call's rules are judged alone).
pub fn judge(
    opened: &[OpenedRule],
    current: Option<&[OpenedRule]>,
    ports: &SensitivePorts,
    threshold: Share,
) -> Vec<Exposure> {
    judge_with(opened, current, &PrefixEntries::new(), ports, threshold)
}

/// [`judge`], with the entries of the prefix lists the rules name.
pub fn judge_with(
    opened: &[OpenedRule],
    current: Option<&[OpenedRule]>,
    prefix_lists: &PrefixEntries,
    ports: &SensitivePorts,
    threshold: Share,
) -> Vec<Exposure> {
    let candidates = candidates(opened, current.unwrap_or(&[]), prefix_lists);
    let blocks = |set: &[usize]| -> Vec<Block> {
        set.iter()
            .flat_map(|&i| candidates[i].blocks.iter().copied())
            .collect()
    };
    // Each probe's set of public rules; probes with the same set of rules are one exposure.
    let mut by_rules: BTreeMap<(Family, Vec<usize>), Vec<Probe>> = BTreeMap::new();
    for probe in probes(opened, &candidates, ports) {
        for family in [Family::V4, Family::V6] {
            let reaching: Vec<usize> = (0..candidates.len())
                .filter(|&i| {
                    let c = &candidates[i];
                    c.family == family && c.share > 0.0 && reaches(&c.rule, probe)
                })
                .collect();
            // The call must have let some of the public in on this port itself.
            if reaching.iter().any(|&i| candidates[i].opened) {
                by_rules.entry((family, reaching)).or_default().push(probe);
            }
        }
    }
    let mut exposures = Vec::new();
    for ((family, mut reaching), probes) in by_rules {
        let share = exposure::public_share(family, blocks(&reaching));
        if !threshold.reached_by(share) {
            continue;
        }
        // Largest first; on a tie, the call's own rule first.
        reaching.sort_by(|&a, &b| {
            let (a, b) = (&candidates[a], &candidates[b]);
            b.share.total_cmp(&a.share).then(b.opened.cmp(&a.opened))
        });
        let mut left = reaching.clone();
        let mut revoke = Vec::new();
        while threshold.reached_by(exposure::public_share(family, blocks(&left))) {
            let largest = left.remove(0);
            revoke.push(candidates[largest].rule.clone());
        }
        exposures.push(Exposure {
            probes,
            family,
            share,
            rules: reaching
                .iter()
                .map(|&i| (candidates[i].rule.clone(), candidates[i].opened))
                .collect(),
            revoke,
        });
    }
    exposures
}

/// The rules to revoke for all the exposures, each once, the call's own first.
pub fn to_revoke(exposures: &[Exposure]) -> Vec<OpenedRule> {
    let mut rules: Vec<OpenedRule> = Vec::new();
    for rule in exposures.iter().flat_map(|e| e.revoke.iter()) {
        if !rules.iter().any(|r| same(r, rule)) {
            rules.push(rule.clone());
        }
    }
    rules
}

/// The call's rules and the group's, each rule once (a rule of the group that is one the call
/// added counts as the call's), with the addresses it lets in, one candidate per family: a CIDR,
/// or a prefix list's entries. Rules naming a group let in no address range of their own here.
fn candidates(
    opened: &[OpenedRule],
    current: &[OpenedRule],
    prefix_lists: &PrefixEntries,
) -> Vec<Candidate> {
    let mut rules: Vec<(OpenedRule, bool)> = Vec::new();
    let tagged = opened
        .iter()
        .map(|r| (r, true))
        .chain(current.iter().map(|r| (r, false)));
    for (rule, is_opened) in tagged {
        if let Some((known, _)) = rules.iter_mut().find(|(r, _)| same(r, rule)) {
            if known.rule_id.is_none() {
                known.rule_id = rule.rule_id.clone();
            }
            continue;
        }
        rules.push((rule.clone(), is_opened));
    }
    let mut out = Vec::new();
    for (rule, opened) in rules {
        let all: Vec<Block> = match rule.prefix_list() {
            Some(id) => prefix_lists
                .get(id)
                .into_iter()
                .flatten()
                .filter_map(|c| Block::parse(c))
                .collect(),
            None => Block::parse(&rule.cidr).into_iter().collect(),
        };
        for family in [Family::V4, Family::V6] {
            let blocks: Vec<Block> = all.iter().copied().filter(|b| b.family == family).collect();
            if blocks.is_empty() {
                continue;
            }
            out.push(Candidate {
                share: exposure::public_share(family, blocks.iter().copied()),
                rule: rule.clone(),
                opened,
                family,
                blocks,
            });
        }
    }
    out
}

/// The same rule: the same id, or the same protocol, ports and source.
fn same(a: &OpenedRule, b: &OpenedRule) -> bool {
    match (&a.rule_id, &b.rule_id) {
        (Some(x), Some(y)) if x == y => true,
        _ => a.same_rule(&b.protocol, b.from_port, b.to_port, &b.cidr),
    }
}

/// A rule's ports, inclusive; all traffic and absent ports are every port.
fn port_range(rule: &OpenedRule) -> (u16, u16) {
    let clamp = |p: i32| p.clamp(0, 65535) as u16;
    match rule.protocol.as_str() {
        "-1" => (0, u16::MAX),
        _ => (
            rule.from_port.map_or(0, clamp),
            rule.to_port.map_or(u16::MAX, clamp),
        ),
    }
}

/// The protocols a rule carries among the ones judged: TCP, UDP, or both for all traffic.
fn protocols(rule: &OpenedRule) -> &'static [&'static str] {
    match rule.protocol.as_str() {
        "-1" => &["tcp", "udp"],
        "tcp" => &["tcp"],
        "udp" => &["udp"],
        _ => &[],
    }
}

/// Whether a rule lets traffic in on the probe's protocol and port(s).
fn reaches(rule: &OpenedRule, probe: Probe) -> bool {
    if !protocols(rule).contains(&probe.protocol) {
        return false;
    }
    let (from, to) = port_range(rule);
    match probe.port {
        Some(p) => from <= p && p <= to,
        None => from == 0 && to == u16::MAX,
    }
}

/// The probes the call's rules reach: for each sensitive port range a rule overlaps, the first
/// port of the overlap and every port where another rule's range begins or ends inside it (what
/// lets in the public on a port only changes there), and every port when `all` is sensitive and
/// the rule opens every port.
fn probes(opened: &[OpenedRule], candidates: &[Candidate], ports: &SensitivePorts) -> Vec<Probe> {
    let mut out = Vec::new();
    for rule in opened {
        let (from, to) = port_range(rule);
        for &protocol in protocols(rule) {
            for entry in &ports.0 {
                match *entry {
                    PortEntry::Range(a, b) if a <= to && from <= b => {
                        let (lo, hi) = (a.max(from), b.min(to));
                        out.push(Probe {
                            protocol,
                            port: Some(lo),
                        });
                        for c in candidates {
                            let (f, t) = port_range(&c.rule);
                            for edge in [Some(f), t.checked_add(1)].into_iter().flatten() {
                                if lo < edge && edge <= hi {
                                    out.push(Probe {
                                        protocol,
                                        port: Some(edge),
                                    });
                                }
                            }
                        }
                    }
                    PortEntry::All if from == 0 && to == u16::MAX => {
                        out.push(Probe {
                            protocol,
                            port: None,
                        });
                    }
                    _ => {}
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;

    fn rule(protocol: &str, ports: Option<(i32, i32)>, cidr: &str, id: &str) -> OpenedRule {
        OpenedRule {
            protocol: protocol.into(),
            from_port: ports.map(|p| p.0),
            to_port: ports.map(|p| p.1),
            cidr: cidr.into(),
            rule_id: Some(id.into()),
            description: None,
        }
    }

    fn ssh(cidr: &str, id: &str) -> OpenedRule {
        rule("tcp", Some((22, 22)), cidr, id)
    }

    fn judged(opened: &[OpenedRule], current: &[OpenedRule]) -> Vec<Exposure> {
        let s = Settings::default();
        judge(
            opened,
            Some(current),
            &s.sensitive_ports,
            s.world_open_share,
        )
    }

    fn sorted(mut ids: Vec<String>) -> Vec<String> {
        ids.sort();
        ids
    }

    fn revoked(opened: &[OpenedRule], current: &[OpenedRule]) -> Vec<String> {
        to_revoke(&judged(opened, current))
            .into_iter()
            .map(|r| r.rule_id.unwrap())
            .collect()
    }

    #[test]
    fn the_whole_internet_in_one_rule_is_revoked() {
        assert_eq!(revoked(&[ssh("0.0.0.0/0", "a")], &[]), ["a"]);
        assert_eq!(revoked(&[ssh("::/0", "a")], &[]), ["a"]);
        let e = judged(&[ssh("0.0.0.0/0", "a")], &[]);
        assert_eq!(
            e[0].describe(),
            "tcp 22 (SSH) from 0.0.0.0/0: 100% of the public IPv4 space"
        );
    }

    #[test]
    fn two_halves_added_in_two_calls_are_both_revoked() {
        // The second call's event: its /1, and the first /1 already on the group.
        let first = ssh("0.0.0.0/1", "first");
        let second = ssh("128.0.0.0/1", "second");
        assert_eq!(
            sorted(revoked(
                std::slice::from_ref(&second),
                &[first.clone(), second.clone()]
            )),
            ["first", "second"]
        );
        let e = judged(std::slice::from_ref(&second), &[first, second.clone()]);
        assert_eq!(e.len(), 1, "{e:#?}");
        assert_eq!(e[0].share, 1.0);
        // Largest first: 0.0.0.0/1 holds more public addresses (224.0.0.0/3 is not public).
        assert_eq!(
            e[0].describe(),
            "tcp 22 (SSH) from 0.0.0.0/1 (already there), 128.0.0.0/1: 100% of the public IPv4 space"
        );
    }

    #[test]
    fn many_small_blocks_across_calls_add_up() {
        // A /9 (half a /8) is below the default 1/256; a second one in another call reaches it.
        let a = ssh("52.0.0.0/9", "a");
        let b = ssh("52.128.0.0/9", "b");
        assert!(revoked(std::slice::from_ref(&a), std::slice::from_ref(&a)).is_empty());
        assert_eq!(
            revoked(std::slice::from_ref(&b), &[a.clone(), b.clone()]),
            ["b"]
        );
        // Sixty-four /14s, one per call, in the 64th call's event: revoked until less than the
        // share is left.
        let blocks: Vec<OpenedRule> = (0..64)
            .map(|i| ssh(&format!("60.{}.0.0/14", i * 4), &format!("r{i}")))
            .collect();
        let gone = revoked(&blocks[63..], &blocks);
        assert!(!gone.is_empty() && gone[0] == "r63", "{gone:?}");
        let left: Vec<Block> = blocks
            .iter()
            .filter(|r| !gone.contains(r.rule_id.as_ref().unwrap()))
            .filter_map(|r| Block::parse(&r.cidr))
            .collect();
        let s = Settings::default();
        assert!(
            !s.world_open_share
                .reached_by(exposure::public_share(Family::V4, left))
        );
    }

    #[test]
    fn a_small_legitimate_rule_beside_the_attack_stays() {
        let office = ssh("198.18.0.0/24", "office");
        let office_public = ssh("81.2.69.0/24", "office-public");
        let a = ssh("0.0.0.0/1", "a");
        let b = ssh("128.0.0.0/1", "b");
        let gone = revoked(
            std::slice::from_ref(&b),
            &[office.clone(), office_public.clone(), a.clone(), b.clone()],
        );
        assert_eq!(sorted(gone), ["a", "b"]);
        // A harmless call beside a world-open rule already there: that rule goes, the call's
        // own /32 stays.
        let old = ssh("0.0.0.0/0", "old");
        let mine = ssh("81.2.69.142/32", "mine");
        assert_eq!(
            revoked(std::slice::from_ref(&mine), &[old, mine.clone()]),
            ["old"]
        );
    }

    #[test]
    fn a_call_that_lets_in_no_public_address_is_not_judged() {
        // Private space on SSH beside an old world-open rule: this call opened nothing.
        let private = ssh("10.0.0.0/8", "private");
        let old = ssh("0.0.0.0/0", "old");
        assert!(revoked(std::slice::from_ref(&private), &[old, private.clone()]).is_empty());
        // A public port (443) beside world-open SSH: another port, not judged.
        let https = rule("tcp", Some((443, 443)), "0.0.0.0/0", "https");
        assert!(revoked(std::slice::from_ref(&https), &[ssh("0.0.0.0/0", "old")]).is_empty());
    }

    #[test]
    fn port_ranges_all_traffic_and_other_protocols_are_judged_on_the_ports_they_share() {
        // An old tcp 0-65535 from one half, a new SSH rule from the other half.
        let wide = rule("tcp", Some((0, 65535)), "0.0.0.0/1", "wide");
        let new = ssh("128.0.0.0/1", "new");
        assert_eq!(
            sorted(revoked(
                std::slice::from_ref(&new),
                &[wide.clone(), new.clone()]
            )),
            ["new", "wide"]
        );
        // All traffic from one half, a new UDP rule on SSH's port from the other.
        let all = rule("-1", None, "0.0.0.0/1", "all");
        let udp = rule("udp", Some((20, 30)), "128.0.0.0/1", "udp");
        assert_eq!(
            sorted(revoked(std::slice::from_ref(&udp), &[all, udp.clone()])),
            ["all", "udp"]
        );
        // UDP beside TCP on the same port are different doors.
        let tcp_half = ssh("0.0.0.0/1", "tcp-half");
        assert!(
            !revoked(std::slice::from_ref(&udp), &[tcp_half, udp.clone()])
                .contains(&"tcp-half".to_string())
        );
        // ICMP is never a sensitive port.
        let icmp = rule("icmp", Some((-1, -1)), "0.0.0.0/0", "icmp");
        assert!(revoked(&[icmp], &[]).is_empty());
        // A range hitting a sensitive port inside it, beside a rule on another part of it.
        let range = rule("tcp", Some((5000, 6000)), "0.0.0.0/1", "range");
        let pg = rule("tcp", Some((5432, 5432)), "128.0.0.0/1", "pg");
        assert_eq!(
            sorted(revoked(std::slice::from_ref(&range), &[range.clone(), pg])),
            ["pg", "range"]
        );
    }

    #[test]
    fn all_traffic_from_the_world_reads_as_all_traffic() {
        let e = judged(&[rule("-1", None, "0.0.0.0/0", "a")], &[]);
        assert_eq!(e.len(), 1, "one exposure for every port it opens: {e:#?}");
        assert_eq!(
            e[0].describe(),
            "all traffic from 0.0.0.0/0: 100% of the public IPv4 space"
        );
        let e = judged(&[rule("tcp", Some((0, 65535)), "0.0.0.0/0", "a")], &[]);
        assert_eq!(e.len(), 1, "{e:#?}");
        assert_eq!(
            e[0].describe(),
            "every tcp port from 0.0.0.0/0: 100% of the public IPv4 space"
        );
    }

    #[test]
    fn ipv4_and_ipv6_are_judged_apart_and_overlaps_count_once() {
        let v4 = ssh("0.0.0.0/0", "v4");
        let v6 = ssh("2000::/4", "v6");
        let e = judged(&[v4, v6], &[]);
        assert_eq!(e.len(), 2, "{e:#?}");
        assert_eq!(e[1].family, Family::V6);
        assert_eq!(e[1].share, 0.5);
        // The same rule in the event and on the group (by id, or by what it allows) is one.
        let once = ssh("52.0.0.0/9", "x");
        let mut unnamed = once.clone();
        unnamed.rule_id = None;
        assert!(judged(std::slice::from_ref(&unnamed), std::slice::from_ref(&once)).is_empty());
    }

    #[test]
    fn without_the_groups_rules_the_call_is_judged_alone() {
        let s = Settings::default();
        let half = ssh("128.0.0.0/1", "b");
        let e = judge(
            std::slice::from_ref(&half),
            None,
            &s.sensitive_ports,
            s.world_open_share,
        );
        assert_eq!(to_revoke(&e), [half]);
        let small = ssh("52.0.0.0/9", "s");
        assert!(judge(&[small], None, &s.sensitive_ports, s.world_open_share).is_empty());
    }
}
