//! The `hub` fuzz target: `tether-server`'s `Hub` (rooms, broadcast, direct sends, bounded
//! member queues under each slow-consumer policy, mailboxes drained, polled and dropped,
//! `broadcast_waiting` cancelled while it waits) driven by a script and checked against a
//! model after every step: every `Delivery`, every mail a mailbox hands out, presence,
//! room sizes, each member's rooms and the hub's counters are exactly what the model says;
//! no queue ever holds more than its capacity; an evicted member is told once and leaves
//! every room; nothing panics. Included with `#[path]` by the libFuzzer entry point and by
//! the corpus replay in `tests/tests/fuzz_replay.rs`, so it names no fuzzing crate. The
//! connection side of a member (`Mailbox::forward`) is the async-layer target's business.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use arbitrary::{Arbitrary, Unstructured};
use tether_proto::{CloseCode, Message};
use tether_server::{Delivery, Hub, HubConfig, Mail, Mailbox, MemberId, SlowPolicy};

/// Rooms are small numbers, so that members meet.
type Room = u8;
const ROOMS: u8 = 4;

/// The whole input.
#[derive(Arbitrary, Debug)]
pub struct HubInput {
    /// Queue capacity, 1 to 8 (small, so that policies apply).
    pub capacity: u8,
    /// 0: drop oldest, 1: drop newest, else disconnect (1013 or 1008).
    pub policy: u8,
    /// What happens, in order.
    pub ops: Vec<Op>,
}

/// One step. `who` picks among every member ever registered (gone ones too, to check the
/// errors); `room` is taken modulo the number of rooms.
#[derive(Arbitrary, Debug)]
pub enum Op {
    /// Register a member with this data.
    Register(u8),
    /// Drop a member's mailbox (its connection ended).
    DropMailbox(u8),
    /// `join`.
    Join { room: Room, who: u8 },
    /// `leave`.
    Leave { room: Room, who: u8 },
    /// `broadcast`.
    Broadcast { room: Room },
    /// `broadcast_except`.
    BroadcastExcept { room: Room, who: u8 },
    /// `broadcast_all`.
    BroadcastAll,
    /// `send_to`.
    SendTo(u8),
    /// `try_recv`.
    TryRecv(u8),
    /// `try_recv_batch` with this maximum.
    TryRecvBatch { who: u8, max: u8 },
    /// `recv` polled once, then dropped if it is still pending (it is cancel-safe).
    RecvOnce(u8),
    /// `broadcast_waiting` polled once; if a full queue makes it wait, it is dropped.
    BroadcastWaiting { room: Room },
    /// Check presence, sizes, rooms and counters.
    Inspect { room: Room, who: u8 },
}

/// What the model knows of a member.
#[derive(Debug, Default)]
struct Member {
    data: u8,
    /// Rooms in join order.
    rooms: Vec<Room>,
    /// Message tags queued, oldest first.
    queue: VecDeque<u64>,
    /// Still in the hub (not evicted, mailbox not dropped).
    present: bool,
    /// Evicted with this code; `reported` once the mailbox said so.
    evicted: Option<CloseCode>,
    reported: bool,
    /// The mailbox was dropped.
    dropped: bool,
}

/// The model of the whole hub.
struct Model {
    capacity: usize,
    policy: SlowPolicy,
    members: Vec<Member>,
    rooms: BTreeMap<Room, BTreeSet<usize>>,
    queued: u64,
    dropped: u64,
    evicted: u64,
}

impl Model {
    /// Queue `tag` for each of `targets` as a non-waiting broadcast does; returns what the
    /// hub must answer.
    fn deliver(&mut self, targets: Vec<usize>, tag: u64) -> Delivery {
        let mut delivery = Delivery::default();
        for i in targets {
            let member = &mut self.members[i];
            if member.queue.len() < self.capacity {
                member.queue.push_back(tag);
                delivery.queued += 1;
                continue;
            }
            match self.policy {
                SlowPolicy::DropOldest => {
                    member.queue.pop_front();
                    member.queue.push_back(tag);
                    delivery.queued += 1;
                    delivery.dropped += 1;
                }
                SlowPolicy::DropNewest => delivery.dropped += 1,
                SlowPolicy::Disconnect(code) => {
                    member.queue.clear();
                    member.evicted = Some(code);
                    delivery.evicted += 1;
                    self.remove(i);
                }
                _ => unreachable!("the harness builds only these policies"),
            }
        }
        self.queued += delivery.queued as u64;
        self.dropped += delivery.dropped as u64;
        self.evicted += delivery.evicted as u64;
        delivery
    }

    /// The member leaves the hub and every room.
    fn remove(&mut self, i: usize) {
        let member = &mut self.members[i];
        member.present = false;
        for room in std::mem::take(&mut member.rooms) {
            if let Some(set) = self.rooms.get_mut(&room) {
                set.remove(&i);
                if set.is_empty() {
                    self.rooms.remove(&room);
                }
            }
        }
    }

    fn room(&self, room: Room) -> Vec<usize> {
        self.rooms.get(&room).map(|s| s.iter().copied().collect()).unwrap_or_default()
    }

    /// The next mail of member `i`, as `try_recv` hands it out.
    fn next_mail(&mut self, i: usize) -> Option<Expected> {
        let member = &mut self.members[i];
        if let Some(code) = member.evicted {
            return (!std::mem::replace(&mut member.reported, true)).then_some(Expected::Evicted(code));
        }
        member.queue.pop_front().map(Expected::Message)
    }
}

/// A mail as the model predicts it.
#[derive(Debug, PartialEq)]
enum Expected {
    Message(u64),
    Evicted(CloseCode),
}

fn observe(mail: Mail) -> Expected {
    match mail {
        Mail::Message(Message::Binary(bytes)) => {
            Expected::Message(u64::from_be_bytes(bytes[..].try_into().expect("an 8-byte tag")))
        }
        Mail::Message(other) => panic!("a message the harness never sent: {other:?}"),
        Mail::Evicted(code) => Expected::Evicted(code),
    }
}

fn message(tag: u64) -> Message {
    Message::binary(tag.to_be_bytes().to_vec())
}

/// The libFuzzer and replay entry point.
pub fn hub(data: &[u8]) {
    let Ok(input) = HubInput::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    run(input);
}

fn run(input: HubInput) {
    let capacity = usize::from(input.capacity % 8) + 1;
    let policy = match input.policy % 4 {
        0 => SlowPolicy::DropOldest,
        1 => SlowPolicy::DropNewest,
        2 => SlowPolicy::Disconnect(CloseCode::TRY_AGAIN_LATER),
        _ => SlowPolicy::Disconnect(CloseCode::POLICY_VIOLATION),
    };
    let hub: Hub<Room, u8> = Hub::new(HubConfig::default().with_capacity(capacity).with_policy(policy));
    let mut model =
        Model { capacity, policy, members: Vec::new(), rooms: BTreeMap::new(), queued: 0, dropped: 0, evicted: 0 };
    let mut ids: Vec<MemberId> = Vec::new();
    let mut mailboxes: Vec<Option<Mailbox<Room, u8>>> = Vec::new();
    let mut next_tag = 0u64;
    let mut cx = Context::from_waker(Waker::noop());

    for op in input.ops.into_iter().take(512) {
        // Who, among every member ever registered (none yet: the step is skipped).
        let pick = |who: u8| (!ids.is_empty()).then(|| usize::from(who) % ids.len());
        match op {
            Op::Register(data) => {
                let (id, mailbox) = hub.register(data);
                assert!(!ids.contains(&id), "ids are never reused");
                ids.push(id);
                mailboxes.push(Some(mailbox));
                model.members.push(Member { data, present: true, ..Member::default() });
            }
            Op::DropMailbox(who) => {
                let Some(i) = pick(who) else { continue };
                if mailboxes[i].take().is_some() {
                    let member = &mut model.members[i];
                    member.dropped = true;
                    member.queue.clear();
                    model.remove(i);
                }
            }
            Op::Join { room, who } => {
                let Some(i) = pick(who) else { continue };
                let room = room % ROOMS;
                let got = hub.join(room, ids[i]);
                if model.members[i].present {
                    if !model.members[i].rooms.contains(&room) {
                        model.members[i].rooms.push(room);
                    }
                    let set = model.rooms.entry(room).or_default();
                    set.insert(i);
                    assert_eq!(got, Ok(set.len()), "join's room size");
                } else {
                    assert!(got.is_err(), "a member that is gone cannot join");
                }
            }
            Op::Leave { room, who } => {
                let Some(i) = pick(who) else { continue };
                let room = room % ROOMS;
                let was = model.rooms.get(&room).is_some_and(|s| s.contains(&i));
                assert_eq!(hub.leave(&room, ids[i]), was, "leave reports whether it was there");
                if was {
                    model.members[i].rooms.retain(|r| *r != room);
                    let set = model.rooms.get_mut(&room).expect("the room");
                    set.remove(&i);
                    if set.is_empty() {
                        model.rooms.remove(&room);
                    }
                }
            }
            Op::Broadcast { room } => {
                let room = room % ROOMS;
                next_tag += 1;
                let got = hub.broadcast(&room, message(next_tag));
                let want = model.deliver(model.room(room), next_tag);
                assert_eq!(got, want, "broadcast");
            }
            Op::BroadcastExcept { room, who } => {
                let Some(i) = pick(who) else { continue };
                let room = room % ROOMS;
                next_tag += 1;
                let got = hub.broadcast_except(&room, ids[i], message(next_tag));
                let targets = model.room(room).into_iter().filter(|&m| m != i).collect();
                assert_eq!(got, model.deliver(targets, next_tag), "broadcast_except");
            }
            Op::BroadcastAll => {
                next_tag += 1;
                let got = hub.broadcast_all(message(next_tag));
                let targets = (0..model.members.len()).filter(|&m| model.members[m].present).collect();
                assert_eq!(got, model.deliver(targets, next_tag), "broadcast_all");
            }
            Op::SendTo(who) => {
                let Some(i) = pick(who) else { continue };
                next_tag += 1;
                let got = hub.send_to(ids[i], message(next_tag));
                if model.members[i].present {
                    assert_eq!(got, Ok(model.deliver(vec![i], next_tag)), "send_to");
                } else {
                    assert!(got.is_err(), "send_to a member that is gone");
                }
            }
            Op::TryRecv(who) => {
                let Some(i) = pick(who) else { continue };
                let Some(mailbox) = mailboxes[i].as_mut() else { continue };
                assert_eq!(mailbox.try_recv().map(observe), model.next_mail(i), "try_recv");
            }
            Op::TryRecvBatch { who, max } => {
                let Some(i) = pick(who) else { continue };
                let Some(mailbox) = mailboxes[i].as_mut() else { continue };
                let max = usize::from(max % 80);
                let mut out = Vec::new();
                let n = mailbox.try_recv_batch(max, &mut out);
                assert_eq!(n, out.len(), "try_recv_batch counts what it appended");
                let mut want = Vec::new();
                while want.len() < max {
                    match model.next_mail(i) {
                        Some(evicted @ Expected::Evicted(_)) => {
                            want.push(evicted);
                            break;
                        }
                        Some(mail) => want.push(mail),
                        None => break,
                    }
                }
                assert_eq!(out.into_iter().map(observe).collect::<Vec<_>>(), want, "try_recv_batch");
            }
            Op::RecvOnce(who) => {
                let Some(i) = pick(who) else { continue };
                let Some(mailbox) = mailboxes[i].as_mut() else { continue };
                let polled = pin!(mailbox.recv()).poll(&mut cx);
                let reported_before = model.members[i].reported;
                match (polled, model.next_mail(i)) {
                    (Poll::Ready(Some(mail)), Some(want)) => assert_eq!(observe(mail), want, "recv"),
                    // Nothing queued: `None` once the eviction was handed out, else it waits.
                    (Poll::Ready(None), None) => assert!(reported_before, "recv ended early"),
                    (Poll::Pending, None) => assert!(!reported_before, "recv waits after the end"),
                    (got, want) => panic!("recv: got {got:?}, the model says {want:?}"),
                }
            }
            Op::BroadcastWaiting { room } => {
                let room = room % ROOMS;
                next_tag += 1;
                let targets = model.room(room);
                let polled = pin!(hub.broadcast_waiting(&room, message(next_tag))).poll(&mut cx);
                let full: Vec<usize> =
                    targets.iter().copied().filter(|&m| model.members[m].queue.len() >= model.capacity).collect();
                match polled {
                    Poll::Ready(got) => {
                        assert!(full.is_empty(), "broadcast_waiting finished past a full queue");
                        assert_eq!(got, Delivery { queued: targets.len(), dropped: 0, evicted: 0 });
                        for &m in &targets {
                            model.members[m].queue.push_back(next_tag);
                        }
                        model.queued += targets.len() as u64;
                    }
                    Poll::Pending => {
                        // Dropped while it waits: the members it reached before the full one
                        // have the message, the others not (the order is the hub's). A full
                        // queue never gets it. Each member's queue is drained and checked
                        // against both possibilities, which makes the model exact again.
                        assert!(!full.is_empty(), "broadcast_waiting waited with room in every queue");
                        for &m in &targets {
                            let mailbox = mailboxes[m].as_mut().expect("a member in a room has its mailbox");
                            let mut got = Vec::new();
                            while let Some(mail) = mailbox.try_recv() {
                                got.push(observe(mail));
                            }
                            let mut want: Vec<Expected> =
                                model.members[m].queue.drain(..).map(Expected::Message).collect();
                            if got.len() == want.len() + 1 && !full.contains(&m) {
                                want.push(Expected::Message(next_tag));
                            }
                            assert_eq!(got, want, "a member's queue after a cancelled broadcast_waiting");
                        }
                        // The counters count only finished waiting broadcasts.
                    }
                }
            }
            Op::Inspect { room, who } => {
                let room = room % ROOMS;
                let want: Vec<(MemberId, u8)> =
                    model.room(room).into_iter().map(|m| (ids[m], model.members[m].data)).collect();
                assert_eq!(hub.presence(&room), want, "presence");
                assert_eq!(hub.room_len(&room), want.len(), "room_len");
                if let Some(i) = pick(who) {
                    assert_eq!(hub.rooms_of(ids[i]), model.members[i].rooms, "rooms_of");
                    let data = model.members[i].present.then_some(model.members[i].data);
                    assert_eq!(hub.data(ids[i]), data, "data");
                }
                let stats = hub.stats();
                assert_eq!(
                    (stats.queued, stats.dropped, stats.evicted),
                    (model.queued, model.dropped, model.evicted),
                    "counters"
                );
                assert_eq!(stats.members, model.members.iter().filter(|m| m.present).count(), "members");
                assert_eq!(stats.rooms, model.rooms.len(), "rooms");
            }
        }
        // After every step: no queue holds more than its capacity, and each holds exactly
        // what the model says it does.
        for (i, mailbox) in mailboxes.iter().enumerate() {
            if let Some(mailbox) = mailbox {
                assert!(mailbox.len() <= capacity, "a queue past its capacity");
                assert_eq!(mailbox.len(), model.members[i].queue.len(), "queue length of member {i}");
            }
        }
    }

    // The hub goes away: every mailbox hands out what it holds, then ends.
    drop(hub);
    for (i, mailbox) in mailboxes.iter_mut().enumerate() {
        let Some(mailbox) = mailbox else { continue };
        loop {
            let polled = pin!(mailbox.recv()).poll(&mut cx);
            match polled {
                Poll::Ready(Some(mail)) => assert_eq!(Some(observe(mail)), model.next_mail(i), "recv after the hub"),
                Poll::Ready(None) => {
                    assert_eq!(model.next_mail(i), None, "recv ended with mail left");
                    break;
                }
                Poll::Pending => panic!("recv waits for a hub that is gone"),
            }
        }
    }
}
