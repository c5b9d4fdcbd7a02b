//! `Hub`: rooms of members in one process — join, leave (automatic when a member's
//! `Mailbox` is dropped), broadcast to a room / everyone / all but one, direct sends, and
//! presence; each member has a bounded queue and the hub one slow-consumer policy. What does
//! not live here: sockets (a member's connection task drains its `Mailbox`), encoding
//! (messages are `Bytes`-backed, so a broadcast clones handles, never payloads) and the
//! backends spanning processes: a hub made by [`Hub::new`] is in-process; a hub made with a
//! backend ([`Link`], crate-private: the Redis backend in `cluster.rs` is the one there is)
//! also hands every broadcast, direct send to another instance's member and membership
//! change to it, and keeps the members other instances announce for [`Hub::presence`].

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::poll_fn;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Poll, Waker};

use tether_proto::{CloseCode, Message};

/// A member's identity in a [`Hub`], unique for the hub's lifetime. In a hub spanning
/// instances it is unique in the cluster: the upper 24 bits name the instance (its node
/// number, 0 for an in-process hub), the lower 40 count its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MemberId(u64);

/// Bits of a [`MemberId`] that count an instance's members.
const LOCAL_BITS: u32 = 40;

impl MemberId {
    /// The number behind the id (for logs; ids are never reused by a hub).
    pub fn get(self) -> u64 {
        self.0
    }

    /// The instance (node number) that holds the member: 0 for an in-process hub.
    pub fn node(self) -> u32 {
        (self.0 >> LOCAL_BITS) as u32
    }

    /// The id with this raw number (decoded from a backend's message).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))] // the Redis backend's
    pub(crate) fn from_raw(raw: u64) -> MemberId {
        MemberId(raw)
    }
}

/// What a hub hands its cross-instance backend. Every call is made with the hub's lock held
/// (so the backend sees membership changes and broadcasts in the order the hub made them)
/// and must not block or take the hub's lock: a backend queues, bounded, and publishes from
/// its own task.
pub(crate) trait Link<R, D>: Send + Sync {
    /// A local member joined `room`.
    fn joined(&self, room: &R, id: MemberId, data: &D);
    /// A local member left `room` (or its mailbox was dropped, or it was evicted).
    fn left(&self, room: &R, id: MemberId);
    /// A broadcast to `room` (but `except`) for the other instances' members.
    fn broadcast(&self, room: &R, except: Option<MemberId>, message: &Message);
    /// A broadcast to every member of every other instance.
    fn broadcast_all(&self, message: &Message);
    /// A direct send to a member held by another instance.
    fn send(&self, id: MemberId, message: &Message);
}

/// What a broadcast does for a member whose queue is full. Whatever the policy,
/// [`Hub::broadcast`] never waits for a member; [`Hub::broadcast_waiting`] is the waiting
/// alternative, chosen per call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SlowPolicy {
    /// Drop the member's oldest queued message to make room (counted): the member sees the
    /// latest state, with a gap. Suits dashboards and tickers.
    DropOldest,
    /// Drop the new message for that member (counted): the member sees a prefix of the
    /// stream, with a gap at its end.
    DropNewest,
    /// Disconnect the member: its queue is cleared, its [`Mailbox`] yields
    /// [`Mail::Evicted`] with this code (the connection task closes with it), and it leaves
    /// every room. [`CloseCode::TRY_AGAIN_LATER`] (1013) is the default: falling behind is
    /// usually a passing condition of the client or its network, and the code tells a client
    /// to reconnect (which also resynchronises its state), where 1008 would say it broke a
    /// rule and should not come back.
    Disconnect(CloseCode),
}

/// How a [`Hub`] bounds its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HubConfig {
    /// Messages a member's queue holds before the policy applies (at least 1).
    pub queue_capacity: usize,
    /// What a broadcast does for a member whose queue is full.
    pub policy: SlowPolicy,
}

impl Default for HubConfig {
    /// 1024 messages per member, then [`SlowPolicy::Disconnect`] with 1013.
    fn default() -> Self {
        HubConfig { queue_capacity: 1024, policy: SlowPolicy::Disconnect(CloseCode::TRY_AGAIN_LATER) }
    }
}

impl HubConfig {
    /// The default bounds with another queue capacity.
    pub fn with_capacity(mut self, queue_capacity: usize) -> Self {
        self.queue_capacity = queue_capacity.max(1);
        self
    }

    /// The default bounds with another slow-consumer policy.
    pub fn with_policy(mut self, policy: SlowPolicy) -> Self {
        self.policy = policy;
        self
    }
}

/// What one broadcast did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Members the message was queued for.
    pub queued: usize,
    /// Messages dropped by the policy (the new one, or an old one to make room).
    pub dropped: usize,
    /// Members disconnected by the policy.
    pub evicted: usize,
}

/// Counters since the hub was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HubStats {
    /// Messages queued for members (a broadcast to N members counts N).
    pub queued: u64,
    /// Messages dropped by the slow-consumer policy.
    pub dropped: u64,
    /// Members disconnected by the slow-consumer policy.
    pub evicted: u64,
    /// Members registered now.
    pub members: usize,
    /// Rooms with at least one member now.
    pub rooms: usize,
}

/// How [`Mailbox::forward`] ended (when it did not end with the connection's error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forwarded {
    /// Every [`Hub`] clone was dropped.
    HubGone,
    /// The slow-consumer policy disconnected the member; the connection was closed with
    /// this code.
    Evicted(CloseCode),
}

enum Either<A, B> {
    Left(A),
    Right(B),
}

/// Polls both futures; the first to finish wins and the other is dropped.
async fn first_of<A: std::future::Future, B: std::future::Future>(
    mut a: std::pin::Pin<&mut A>,
    mut b: std::pin::Pin<&mut B>,
) -> Either<A::Output, B::Output> {
    poll_fn(|cx| {
        if let Poll::Ready(out) = a.as_mut().poll(cx) {
            return Poll::Ready(Either::Left(out));
        }
        if let Poll::Ready(out) = b.as_mut().poll(cx) {
            return Poll::Ready(Either::Right(out));
        }
        Poll::Pending
    })
    .await
}

/// Polls `fut` once, whatever it answers.
async fn poll_once<F: std::future::Future>(mut fut: std::pin::Pin<&mut F>) {
    poll_fn(|cx| {
        let _ = fut.as_mut().poll(cx);
        Poll::Ready(())
    })
    .await
}

/// What a [`Mailbox`] hands its connection task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mail {
    /// A message to send to the member's peer.
    Message(Message),
    /// The member was disconnected by the slow-consumer policy: close the connection with
    /// this code. Nothing follows.
    Evicted(CloseCode),
}

/// A direct send or a membership change named a member the hub does not have (never
/// registered, its mailbox dropped, or evicted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownMember(pub MemberId);

impl std::fmt::Display for UnknownMember {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no member {} in this hub", self.0 .0)
    }
}

impl std::error::Error for UnknownMember {}

/// One member's queue: filled by broadcasts, drained by the member's [`Mailbox`].
#[derive(Debug)]
struct Queue {
    state: Mutex<QueueState>,
}

#[derive(Debug, Default)]
struct QueueState {
    items: VecDeque<Message>,
    /// Set by the slow-consumer policy: the mailbox yields `Mail::Evicted` once, then ends.
    evicted: Option<CloseCode>,
    /// Whether the eviction has been handed out.
    reported: bool,
    /// The mailbox is gone: nothing is queued any more.
    closed: bool,
    /// The mailbox's task, waiting for mail.
    reader: Option<Waker>,
    /// A forwarding loop blocked in a send, waiting to learn of an eviction.
    evict_watch: Option<Waker>,
    /// Waiting broadcasters (`broadcast_waiting`), woken when space frees.
    writers: Vec<Waker>,
}

enum Push {
    Queued,
    Dropped,
    Evicted,
    Gone,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        // A panic elsewhere while holding the lock leaves a consistent queue (every update
        // is one push or pop), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn push(&self, message: &Message, capacity: usize, policy: SlowPolicy) -> Push {
        let mut state = self.lock();
        if state.evicted.is_some() || state.closed {
            return Push::Gone;
        }
        let outcome = if state.items.len() < capacity {
            state.items.push_back(message.clone());
            Push::Queued
        } else {
            match policy {
                SlowPolicy::DropOldest => {
                    state.items.pop_front();
                    state.items.push_back(message.clone());
                    Push::Dropped
                }
                SlowPolicy::DropNewest => return Push::Dropped,
                SlowPolicy::Disconnect(code) => {
                    state.items.clear();
                    state.evicted = Some(code);
                    Push::Evicted
                }
            }
        };
        let reader = state.reader.take();
        // Broadcasters waiting for room in an evicted queue give up on it, and a forwarding
        // loop stuck in a send learns of it.
        let (writers, watch) = if state.evicted.is_some() {
            (std::mem::take(&mut state.writers), state.evict_watch.take())
        } else {
            (Vec::new(), None)
        };
        drop(state);
        reader.into_iter().chain(writers).chain(watch).for_each(Waker::wake);
        outcome
    }
}

struct Member<R, D> {
    queue: Arc<Queue>,
    rooms: Vec<R>,
    data: D,
}

pub(crate) struct State<R, D> {
    members: HashMap<MemberId, Member<R, D>>,
    rooms: HashMap<R, HashMap<MemberId, Arc<Queue>>>,
    /// Members of other instances, by room, as their backend announced them.
    remote: HashMap<R, BTreeMap<MemberId, D>>,
    next_id: u64,
}

pub(crate) struct Shared<R, D> {
    state: Mutex<State<R, D>>,
    /// The cross-instance backend, if any.
    link: Option<Arc<dyn Link<R, D>>>,
    config: HubConfig,
    queued: AtomicU64,
    dropped: AtomicU64,
    evicted: AtomicU64,
}

impl<R, D> Drop for Shared<R, D> {
    fn drop(&mut self) {
        // Mailboxes waiting in `recv` learn that nothing more will come.
        let state = self.state.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner());
        for member in state.members.values() {
            if let Some(waker) = member.queue.lock().reader.take() {
                waker.wake();
            }
        }
    }
}

impl<R: Hash + Eq + Clone, D> Shared<R, D> {
    fn lock(&self) -> MutexGuard<'_, State<R, D>> {
        // Every update below leaves the maps consistent at each step a panic could stop it.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn remove(&self, state: &mut State<R, D>, id: MemberId) -> Option<Member<R, D>> {
        let member = state.members.remove(&id)?;
        for room in &member.rooms {
            if let Some(link) = &self.link {
                link.left(room, id);
            }
            if let Some(members) = state.rooms.get_mut(room) {
                members.remove(&id);
                if members.is_empty() {
                    state.rooms.remove(room);
                }
            }
        }
        Some(member)
    }
}

/// Rooms of members, keyed by any `R: Hash + Eq + Clone` (a `String`, an enum, a tuple),
/// each member carrying application data `D` (a name, a user id) for presence lists.
/// Cheap to clone (an `Arc`); every clone is the same hub.
///
/// A connection joins by [`register`](Hub::register)ing (which gives it a [`MemberId`] and
/// the [`Mailbox`] its task drains into the socket) and [`join`](Hub::join)ing rooms. A
/// broadcast queues the message (a `Bytes`-backed handle: the payload is never copied) on
/// every member's bounded queue and returns at once; a member that does not keep up meets
/// the hub's [`SlowPolicy`] and holds no one else back.
///
/// ```
/// use tether_proto::Message;
/// use tether_server::{Hub, HubConfig, Mail};
///
/// let hub: Hub<&str, &str> = Hub::new(HubConfig::default());
/// let (ada, mut ada_mail) = hub.register("ada");
/// let (bob, _bob_mail) = hub.register("bob");
/// hub.join("lobby", ada).unwrap();
/// hub.join("lobby", bob).unwrap();
/// assert_eq!(hub.presence(&"lobby"), [(ada, "ada"), (bob, "bob")]);
///
/// let delivery = hub.broadcast_except(&"lobby", bob, Message::text("hi"));
/// assert_eq!(delivery.queued, 1);
/// assert_eq!(ada_mail.try_recv(), Some(Mail::Message(Message::text("hi"))));
/// drop(ada_mail); // the connection ended: ada leaves every room
/// assert_eq!(hub.presence(&"lobby"), [(bob, "bob")]);
/// ```
pub struct Hub<R, D = ()> {
    shared: Arc<Shared<R, D>>,
}

impl<R, D> Clone for Hub<R, D> {
    fn clone(&self) -> Self {
        Hub { shared: Arc::clone(&self.shared) }
    }
}

impl<R, D> std::fmt::Debug for Hub<R, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").field("config", &self.shared.config).finish_non_exhaustive()
    }
}

impl<R: Hash + Eq + Clone, D: Clone> Hub<R, D> {
    /// An empty in-process hub with these bounds.
    pub fn new(config: HubConfig) -> Self {
        Hub::with_link(config, 0, None)
    }

    /// An empty hub whose member ids carry `node` and whose cross-instance traffic goes to
    /// `link`.
    pub(crate) fn with_link(config: HubConfig, node: u32, link: Option<Arc<dyn Link<R, D>>>) -> Self {
        let config = HubConfig { queue_capacity: config.queue_capacity.max(1), ..config };
        let next_id = u64::from(node) << LOCAL_BITS;
        Hub {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    members: HashMap::new(),
                    rooms: HashMap::new(),
                    remote: HashMap::new(),
                    next_id,
                }),
                link,
                config,
                queued: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
                evicted: AtomicU64::new(0),
            }),
        }
    }

    /// The bounds this hub applies.
    pub fn config(&self) -> HubConfig {
        self.shared.config
    }

    /// A new member, in no room yet: its id, and the mailbox its connection task drains.
    /// Dropping the mailbox removes the member from the hub and every room.
    pub fn register(&self, data: D) -> (MemberId, Mailbox<R, D>) {
        let queue = Arc::new(Queue { state: Mutex::new(QueueState::default()) });
        let mut state = self.shared.lock();
        let id = MemberId(state.next_id);
        state.next_id += 1;
        state.members.insert(id, Member { queue: Arc::clone(&queue), rooms: Vec::new(), data });
        drop(state);
        (id, Mailbox { id, queue, hub: Arc::downgrade(&self.shared) })
    }

    /// Puts a member in a room (no effect if it is already there); returns how many members
    /// the room has now.
    ///
    /// # Errors
    /// [`UnknownMember`] if the member's mailbox is gone or it was evicted.
    pub fn join(&self, room: R, id: MemberId) -> Result<usize, UnknownMember> {
        let mut state = self.shared.lock();
        let State { members, rooms, .. } = &mut *state;
        let member = members.get_mut(&id).ok_or(UnknownMember(id))?;
        let in_room = rooms.entry(room.clone()).or_default();
        if in_room.insert(id, Arc::clone(&member.queue)).is_none() {
            if let Some(link) = &self.shared.link {
                link.joined(&room, id, &member.data);
            }
            member.rooms.push(room.clone());
        }
        let local = in_room.len();
        Ok(local + state.remote.get(&room).map_or(0, BTreeMap::len))
    }

    /// Takes a member out of a room; returns whether it was there.
    pub fn leave(&self, room: &R, id: MemberId) -> bool {
        let mut state = self.shared.lock();
        let State { members, rooms, .. } = &mut *state;
        let Some(in_room) = rooms.get_mut(room) else { return false };
        if in_room.remove(&id).is_none() {
            return false;
        }
        if in_room.is_empty() {
            rooms.remove(room);
        }
        if let Some(member) = members.get_mut(&id) {
            member.rooms.retain(|r| r != room);
        }
        if let Some(link) = &self.shared.link {
            link.left(room, id);
        }
        true
    }

    /// The members of a room with their data, ordered by id (join order for members
    /// registered in that order). A hub spanning instances lists the other instances'
    /// members too, as their last announcements said.
    pub fn presence(&self, room: &R) -> Vec<(MemberId, D)> {
        let state = self.shared.lock();
        let mut out: Vec<(MemberId, D)> = state
            .rooms
            .get(room)
            .into_iter()
            .flat_map(|members| members.keys())
            .filter_map(|id| state.members.get(id).map(|member| (*id, member.data.clone())))
            .collect();
        if let Some(remote) = state.remote.get(room) {
            out.extend(remote.iter().map(|(id, data)| (*id, data.clone())));
        }
        out.sort_by_key(|(id, _)| *id);
        out
    }

    /// How many members a room has (with the other instances' in a hub spanning instances).
    pub fn room_len(&self, room: &R) -> usize {
        let state = self.shared.lock();
        state.rooms.get(room).map_or(0, HashMap::len) + state.remote.get(room).map_or(0, BTreeMap::len)
    }

    /// The rooms a member is in, in join order.
    pub fn rooms_of(&self, id: MemberId) -> Vec<R> {
        self.shared.lock().members.get(&id).map(|member| member.rooms.clone()).unwrap_or_default()
    }

    /// A member's data.
    pub fn data(&self, id: MemberId) -> Option<D> {
        self.shared.lock().members.get(&id).map(|member| member.data.clone())
    }

    /// Queues `message` for every member of `room`. Never waits: a member whose queue is
    /// full meets the hub's [`SlowPolicy`]. A hub spanning instances also publishes it once
    /// for the other instances (the [`Delivery`] counts this instance's members only).
    pub fn broadcast(&self, room: &R, message: Message) -> Delivery {
        self.deliver(
            |state| state.rooms.get(room).into_iter().flat_map(|m| m.iter()).collect(),
            &message,
            None,
            |link| link.broadcast(room, None, &message),
        )
    }

    /// Queues `message` for every member of `room` but `except` (typically the sender).
    pub fn broadcast_except(&self, room: &R, except: MemberId, message: Message) -> Delivery {
        self.deliver(
            |state| state.rooms.get(room).into_iter().flat_map(|m| m.iter()).collect(),
            &message,
            Some(except),
            |link| link.broadcast(room, Some(except), &message),
        )
    }

    /// Queues `message` for this instance's members of `room` only: never published to
    /// other instances (for announcing what every instance learns by itself, such as an
    /// expired instance's members). The same as [`broadcast`](Self::broadcast) in an
    /// in-process hub.
    pub fn broadcast_local(&self, room: &R, message: Message) -> Delivery {
        self.deliver(|state| state.rooms.get(room).into_iter().flat_map(|m| m.iter()).collect(), &message, None, |_| {})
    }

    /// Queues `message` for every member of the hub, in a room or not (of every instance,
    /// in a hub spanning instances).
    pub fn broadcast_all(&self, message: Message) -> Delivery {
        self.deliver(
            |state| state.members.iter().map(|(id, m)| (id, &m.queue)).collect(),
            &message,
            None,
            |link| link.broadcast_all(&message),
        )
    }

    /// Queues `message` for one member, under the same policy as a broadcast. A member of
    /// another instance (one this hub's presence lists) gets it through the backend: the
    /// answer is then `Ok` with an empty [`Delivery`] (published, counted by the backend).
    ///
    /// # Errors
    /// [`UnknownMember`] if the member is gone. A send that finds its queue full under
    /// [`SlowPolicy::Disconnect`] evicts it and answers `Ok` with `evicted: 1`.
    pub fn send_to(&self, id: MemberId, message: Message) -> Result<Delivery, UnknownMember> {
        if let Some(link) = &self.shared.link {
            let state = self.shared.lock();
            if !state.members.contains_key(&id) {
                if state.remote.values().any(|members| members.contains_key(&id)) {
                    link.send(id, &message);
                    return Ok(Delivery::default());
                }
                return Err(UnknownMember(id));
            }
        }
        let delivery = self.deliver(
            |state| state.members.get_key_value(&id).map(|(id, m)| (id, &m.queue)).into_iter().collect(),
            &message,
            None,
            |_| {},
        );
        if delivery == Delivery::default() {
            return Err(UnknownMember(id));
        }
        Ok(delivery)
    }

    /// Queues `message` for every member of `room`, waiting for room in each full queue
    /// instead of applying the policy. This holds the caller — and so every member after
    /// a slow one — until the slow member catches up or leaves: use it only where the
    /// application must not lose a message and accepts that wait. Members that leave while
    /// it waits are skipped.
    pub async fn broadcast_waiting(&self, room: &R, message: Message) -> Delivery {
        let targets: Vec<Arc<Queue>> = {
            let state = self.shared.lock();
            // Other instances' members are published to at once (a backend never waits).
            if let Some(link) = &self.shared.link {
                link.broadcast(room, None, &message);
            }
            state.rooms.get(room).into_iter().flat_map(|m| m.values().cloned()).collect()
        };
        let capacity = self.shared.config.queue_capacity;
        let mut delivery = Delivery::default();
        for queue in targets {
            let queued = poll_fn(|cx| {
                let mut state = queue.lock();
                if state.evicted.is_some() || state.closed {
                    return Poll::Ready(false);
                }
                if state.items.len() < capacity {
                    state.items.push_back(message.clone());
                    let reader = state.reader.take();
                    drop(state);
                    if let Some(waker) = reader {
                        waker.wake();
                    }
                    return Poll::Ready(true);
                }
                if !state.writers.iter().any(|w| w.will_wake(cx.waker())) {
                    state.writers.push(cx.waker().clone());
                }
                Poll::Pending
            })
            .await;
            if queued {
                delivery.queued += 1;
            }
        }
        self.shared.queued.fetch_add(delivery.queued as u64, Ordering::Relaxed);
        delivery
    }

    /// Counters since the hub was made, and its size now.
    pub fn stats(&self) -> HubStats {
        let (members, rooms) = {
            let state = self.shared.lock();
            (state.members.len(), state.rooms.len())
        };
        HubStats {
            queued: self.shared.queued.load(Ordering::Relaxed),
            dropped: self.shared.dropped.load(Ordering::Relaxed),
            evicted: self.shared.evicted.load(Ordering::Relaxed),
            members,
            rooms,
        }
    }

    /// Whether this instance has a member in `room`.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))] // the Redis backend's
    pub(crate) fn has_local(&self, room: &R) -> bool {
        self.shared.lock().rooms.contains_key(room)
    }

    /// Queues a message that came from another instance for this instance's members of
    /// `room` (but `except`), never publishing it again.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))] // the Redis backend's
    pub(crate) fn deliver_local(&self, room: &R, except: Option<MemberId>, message: &Message) -> Delivery {
        self.deliver(
            |state| state.rooms.get(room).into_iter().flat_map(|m| m.iter()).collect(),
            message,
            except,
            |_| {},
        )
    }

    /// Queues a message that came from another instance for every member of this one.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))] // the Redis backend's
    pub(crate) fn deliver_all_local(&self, message: &Message) -> Delivery {
        self.deliver(|state| state.members.iter().map(|(id, m)| (id, &m.queue)).collect(), message, None, |_| {})
    }

    /// Queues a direct message that came from another instance for a member of this one
    /// (nothing if it is gone).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))] // the Redis backend's
    pub(crate) fn send_local(&self, id: MemberId, message: &Message) -> Delivery {
        self.deliver(
            |state| state.members.get_key_value(&id).map(|(id, m)| (id, &m.queue)).into_iter().collect(),
            message,
            None,
            |_| {},
        )
    }

    /// Records another instance's member in `room`; whether it is new there.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))] // the Redis backend's
    pub(crate) fn add_remote(&self, room: R, id: MemberId, data: D) -> bool {
        self.shared.lock().remote.entry(room).or_default().insert(id, data).is_none()
    }

    /// Forgets another instance's member in `room`; its data if it was there.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))] // the Redis backend's
    pub(crate) fn remove_remote(&self, room: &R, id: MemberId) -> Option<D> {
        let mut state = self.shared.lock();
        let members = state.remote.get_mut(room)?;
        let data = members.remove(&id);
        if members.is_empty() {
            state.remote.remove(room);
        }
        data
    }

    /// Calls `f` with every local membership (room, member, data), with the hub's lock held
    /// so that no join or leave is handed to the backend in between.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))] // the Redis backend's
    pub(crate) fn with_memberships<T>(&self, f: impl FnOnce(Vec<(&R, MemberId, &D)>) -> T) -> T {
        let state = self.shared.lock();
        let all = state
            .members
            .iter()
            .flat_map(|(id, member)| member.rooms.iter().map(move |room| (room, *id, &member.data)))
            .collect();
        f(all)
    }

    /// A handle that does not keep the hub alive (for a backend's task).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))] // the Redis backend's
    pub(crate) fn downgrade(&self) -> Weak<Shared<R, D>> {
        Arc::downgrade(&self.shared)
    }

    /// The hub behind `weak`, while any [`Hub`] clone is alive.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))] // the Redis backend's
    pub(crate) fn upgrade(weak: &Weak<Shared<R, D>>) -> Option<Hub<R, D>> {
        weak.upgrade().map(|shared| Hub { shared })
    }

    fn deliver(
        &self,
        targets: impl FnOnce(&State<R, D>) -> Vec<(&MemberId, &Arc<Queue>)>,
        message: &Message,
        except: Option<MemberId>,
        publish: impl FnOnce(&dyn Link<R, D>),
    ) -> Delivery {
        let config = self.shared.config;
        let mut delivery = Delivery::default();
        let mut evicted = Vec::new();
        {
            // The hub lock is held while queueing so that a member cannot join or leave
            // half-way through a broadcast; each push takes only its member's lock briefly.
            let state = self.shared.lock();
            if let Some(link) = &self.shared.link {
                publish(link.as_ref());
            }
            for (id, queue) in targets(&state) {
                if Some(*id) == except {
                    continue;
                }
                match queue.push(message, config.queue_capacity, config.policy) {
                    Push::Queued => delivery.queued += 1,
                    Push::Dropped => {
                        delivery.dropped += 1;
                        if config.policy == SlowPolicy::DropOldest {
                            delivery.queued += 1;
                        }
                    }
                    Push::Evicted => {
                        delivery.evicted += 1;
                        evicted.push(*id);
                    }
                    Push::Gone => {}
                }
            }
        }
        if !evicted.is_empty() {
            let mut state = self.shared.lock();
            for id in evicted {
                self.shared.remove(&mut state, id);
            }
        }
        self.shared.queued.fetch_add(delivery.queued as u64, Ordering::Relaxed);
        self.shared.dropped.fetch_add(delivery.dropped as u64, Ordering::Relaxed);
        self.shared.evicted.fetch_add(delivery.evicted as u64, Ordering::Relaxed);
        delivery
    }
}

/// The receiving end of one member's queue, drained by its connection task (which sends
/// each [`Mail::Message`] to the peer and closes on [`Mail::Evicted`]). Dropping it removes
/// the member from the hub.
pub struct Mailbox<R: Hash + Eq + Clone, D> {
    id: MemberId,
    queue: Arc<Queue>,
    hub: Weak<Shared<R, D>>,
}

impl<R: Hash + Eq + Clone, D> std::fmt::Debug for Mailbox<R, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailbox").field("id", &self.id).finish_non_exhaustive()
    }
}

impl<R: Hash + Eq + Clone, D> Mailbox<R, D> {
    /// The member this mailbox belongs to.
    pub fn id(&self) -> MemberId {
        self.id
    }

    /// How many messages wait in the queue.
    pub fn len(&self) -> usize {
        self.queue.lock().items.len()
    }

    /// Whether no message waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next mail, if one is already queued.
    pub fn try_recv(&mut self) -> Option<Mail> {
        let mut state = self.queue.lock();
        self.take(&mut state)
    }

    /// The next mail, waiting for one; `None` after [`Mail::Evicted`], or once the hub
    /// itself is gone (every [`Hub`] clone dropped) and the queue is empty.
    ///
    /// # Cancel safety
    /// Cancel-safe: a mail is taken from the queue only in the poll that returns it.
    pub async fn recv(&mut self) -> Option<Mail> {
        poll_fn(|cx| {
            let mut state = self.queue.lock();
            if let Some(mail) = self.take(&mut state) {
                return Poll::Ready(Some(mail));
            }
            if state.reported || self.hub.strong_count() == 0 {
                return Poll::Ready(None);
            }
            state.reader = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// Up to `max` queued messages at once (for `send_batch`), without waiting; an
    /// eviction comes alone, after the messages taken before it.
    pub fn try_recv_batch(&mut self, max: usize, out: &mut Vec<Mail>) -> usize {
        let mut state = self.queue.lock();
        let mut n = 0;
        while n < max {
            match self.take(&mut state) {
                Some(mail @ Mail::Evicted(_)) => {
                    out.push(mail);
                    return n + 1;
                }
                Some(mail) => out.push(mail),
                None => break,
            }
            n += 1;
        }
        n
    }

    /// Resolves once the member is evicted, without taking any mail: for racing a send that
    /// may block on a peer that stopped reading.
    async fn evicted(&self) -> CloseCode {
        poll_fn(|cx| {
            let mut state = self.queue.lock();
            match state.evicted {
                Some(code) => Poll::Ready(code),
                None => {
                    state.evict_watch = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// Sends every mail to the member's peer through `sender` until the hub is gone or
    /// evicts the member, taking up to 64 queued messages per write ([`send_batch`]). An
    /// eviction ends the loop at once, even while a send waits on a peer that stopped
    /// reading: the close frame with the eviction's code is queued behind what was already
    /// accepted (keep driving the connection's reader to complete the close handshake; the
    /// close timeout bounds it), and the member has already left every room.
    ///
    /// [`send_batch`]: tether_rt::Sender::send_batch
    ///
    /// Run it beside the connection's receive loop and stop it when that loop ends (race
    /// the two, as `select!` does): a connection that closed while the member's queue was
    /// empty is otherwise noticed only by the next send.
    ///
    /// # Errors
    /// The connection's [`tether_rt::Error`] if it ended first (the peer left, a timeout).
    ///
    /// # Cancel safety
    /// Not cancel safe: mail taken from the queue and not yet accepted by the sender is
    /// lost if the future is dropped. Drop it only to end the member's connection.
    pub async fn forward<S, Rt>(&mut self, sender: &tether_rt::Sender<S, Rt>) -> Result<Forwarded, tether_rt::Error>
    where
        Rt: tether_rt::Runtime,
        Rt::Io<S>: tether_rt::Transport,
    {
        let mut batch = Vec::with_capacity(64);
        loop {
            let Some(first) = self.recv().await else { return Ok(Forwarded::HubGone) };
            batch.clear();
            batch.push(first);
            self.try_recv_batch(63, &mut batch);
            let mut evicted = None;
            let messages: Vec<Message> = batch
                .drain(..)
                .filter_map(|mail| match mail {
                    Mail::Message(message) => Some(message),
                    Mail::Evicted(code) => {
                        evicted = Some(code);
                        None
                    }
                })
                .collect();
            if evicted.is_none() && !messages.is_empty() {
                let send = std::pin::pin!(sender.send_batch(messages));
                let watch = std::pin::pin!(self.evicted());
                match first_of(send, watch).await {
                    Either::Left(result) => result?,
                    Either::Right(code) => evicted = Some(code),
                }
            }
            if let Some(code) = evicted {
                // The peer may not read for a long time: queue the close frame (one poll
                // does that) without waiting for it to be written. Whoever drives the
                // connection's reader completes the close handshake, bounded by the close
                // timeout; the member is gone from the hub either way.
                let close = std::pin::pin!(sender.close(code, "too slow: disconnected by the server"));
                poll_once(close).await;
                self.take(&mut self.queue.lock());
                return Ok(Forwarded::Evicted(code));
            }
        }
    }

    fn take(&self, state: &mut QueueState) -> Option<Mail> {
        if let Some(code) = state.evicted {
            // Reported once; nothing follows it.
            return (!std::mem::replace(&mut state.reported, true)).then_some(Mail::Evicted(code));
        }
        let message = state.items.pop_front()?;
        let writers = std::mem::take(&mut state.writers);
        writers.into_iter().for_each(Waker::wake);
        Some(Mail::Message(message))
    }
}

impl<R: Hash + Eq + Clone, D> Drop for Mailbox<R, D> {
    fn drop(&mut self) {
        let writers = {
            let mut state = self.queue.lock();
            state.closed = true;
            state.items.clear();
            std::mem::take(&mut state.writers)
        };
        if let Some(hub) = self.hub.upgrade() {
            let mut state = hub.lock();
            hub.remove(&mut state, self.id);
        }
        // Waiting broadcasters skip a member whose mailbox is gone.
        writers.into_iter().for_each(Waker::wake);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::sync::atomic::AtomicBool;
    use std::task::{Context, Wake};
    use std::thread;
    use std::time::Duration;

    /// Wakes by unparking the thread that polls.
    struct Unpark(thread::Thread, AtomicBool);

    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.1.store(true, Ordering::SeqCst);
            self.0.unpark();
        }
    }

    /// Polls `future` to completion on this thread, parking between polls; gives up after
    /// ten seconds of no progress (a hang fails the test instead of stalling it).
    fn block_on<F: Future>(future: F) -> F::Output {
        let waker_state = Arc::new(Unpark(thread::current(), AtomicBool::new(false)));
        let waker = Waker::from(Arc::clone(&waker_state));
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
            let start = std::time::Instant::now();
            while !waker_state.1.swap(false, Ordering::SeqCst) {
                assert!(start.elapsed() < Duration::from_secs(10), "no wake-up within 10 s");
                thread::park_timeout(Duration::from_millis(50));
            }
        }
    }

    /// Polls once: `Some` if ready, `None` if it would wait.
    fn poll_once<F: Future>(future: F) -> Option<F::Output> {
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        match pin!(future).poll(&mut cx) {
            Poll::Ready(out) => Some(out),
            Poll::Pending => None,
        }
    }

    fn text(mail: Option<Mail>) -> String {
        match mail {
            Some(Mail::Message(Message::Text(t))) => t.as_str().to_owned(),
            other => panic!("expected a text message, got {other:?}"),
        }
    }

    fn drain(mailbox: &mut Mailbox<&'static str, u32>) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(mail) = mailbox.try_recv() {
            out.push(text(Some(mail)));
        }
        out
    }

    fn hub(capacity: usize, policy: SlowPolicy) -> Hub<&'static str, u32> {
        Hub::new(HubConfig::default().with_capacity(capacity).with_policy(policy))
    }

    #[test]
    fn membership_presence_and_automatic_leave() {
        let hub = hub(8, SlowPolicy::DropNewest);
        let (a, mail_a) = hub.register(1);
        let (b, mail_b) = hub.register(2);
        assert_eq!(hub.join("x", a), Ok(1));
        assert_eq!(hub.join("x", a), Ok(1), "joining twice changes nothing");
        assert_eq!(hub.join("x", b), Ok(2));
        assert_eq!(hub.join("y", b), Ok(1));
        assert_eq!(hub.presence(&"x"), [(a, 1), (b, 2)]);
        assert_eq!(hub.rooms_of(b), ["x", "y"]);
        assert_eq!((hub.data(a), hub.room_len(&"y")), (Some(1), 1));
        assert!(hub.leave(&"y", b));
        assert!(!hub.leave(&"y", b));
        assert_eq!(hub.stats().rooms, 1, "an empty room is removed");
        drop(mail_b);
        assert_eq!(hub.presence(&"x"), [(a, 1)]);
        assert_eq!(hub.rooms_of(b), Vec::<&str>::new());
        assert_eq!(hub.join("x", b), Err(UnknownMember(b)));
        assert_eq!(hub.data(b), None);
        drop(mail_a);
        let stats = hub.stats();
        assert_eq!((stats.members, stats.rooms), (0, 0));
    }

    #[test]
    fn broadcasts_reach_exactly_their_audience_without_copying_payloads() {
        let hub = hub(8, SlowPolicy::DropNewest);
        let (a, mut mail_a) = hub.register(1);
        let (b, mut mail_b) = hub.register(2);
        let (_c, mut mail_c) = hub.register(3);
        hub.join("room", a).unwrap();
        hub.join("room", b).unwrap();

        assert_eq!(hub.broadcast(&"room", Message::text("to room")).queued, 2);
        assert_eq!(hub.broadcast_except(&"room", a, Message::text("from a")).queued, 1);
        assert_eq!(hub.broadcast_all(Message::text("to all")).queued, 3);
        assert_eq!(hub.send_to(b, Message::text("direct")).map(|d| d.queued), Ok(1));
        assert_eq!(hub.broadcast(&"empty", Message::text("nobody")), Delivery::default());

        assert_eq!(drain(&mut mail_a), ["to room", "to all"]);
        assert_eq!(drain(&mut mail_b), ["to room", "from a", "to all", "direct"]);
        assert_eq!(drain(&mut mail_c), ["to all"]);

        let payload = bytes::Bytes::from(vec![7u8; 4096]);
        hub.broadcast(&"room", Message::Binary(payload.clone()));
        for mailbox in [&mut mail_a, &mut mail_b] {
            match mailbox.try_recv() {
                Some(Mail::Message(Message::Binary(got))) => assert_eq!(got.as_ptr(), payload.as_ptr()),
                other => panic!("{other:?}"),
            }
        }
        drop(mail_c);
        let gone = hub.stats().members;
        assert_eq!(gone, 2);
        assert_eq!(hub.send_to(MemberId(2), Message::text("x")), Err(UnknownMember(MemberId(2))));
        assert_eq!(hub.stats().queued, 2 + 1 + 3 + 1 + 2);
    }

    #[test]
    fn drop_oldest_keeps_the_latest_and_holds_nobody_back() {
        let hub = hub(3, SlowPolicy::DropOldest);
        let (slow, mut slow_mail) = hub.register(1);
        let (fast, mut fast_mail) = hub.register(2);
        hub.join("r", slow).unwrap();
        hub.join("r", fast).unwrap();
        let mut fast_got = Vec::new();
        for i in 0..10 {
            let delivery = hub.broadcast(&"r", Message::text(i.to_string()));
            assert_eq!(delivery.queued, 2, "DropOldest still queues the new message");
            fast_got.extend(drain(&mut fast_mail));
        }
        assert_eq!(fast_got, (0..10).map(|i| i.to_string()).collect::<Vec<_>>());
        assert_eq!(drain(&mut slow_mail), ["7", "8", "9"]);
        assert_eq!(hub.stats().dropped, 7);
    }

    #[test]
    fn drop_newest_keeps_the_first() {
        let hub = hub(3, SlowPolicy::DropNewest);
        let (slow, mut slow_mail) = hub.register(1);
        hub.join("r", slow).unwrap();
        let deliveries: Vec<Delivery> = (0..5).map(|i| hub.broadcast(&"r", Message::text(i.to_string()))).collect();
        assert_eq!(deliveries[2], Delivery { queued: 1, dropped: 0, evicted: 0 });
        assert_eq!(deliveries[3], Delivery { queued: 0, dropped: 1, evicted: 0 });
        assert_eq!(drain(&mut slow_mail), ["0", "1", "2"]);
        assert_eq!(hub.stats().dropped, 2);
    }

    #[test]
    fn disconnect_evicts_the_slow_member_once_and_only_it() {
        let hub = hub(2, SlowPolicy::Disconnect(CloseCode::TRY_AGAIN_LATER));
        let (slow, mut slow_mail) = hub.register(1);
        let (fast, mut fast_mail) = hub.register(2);
        hub.join("r", slow).unwrap();
        hub.join("r", fast).unwrap();
        hub.broadcast(&"r", Message::text("0"));
        hub.broadcast(&"r", Message::text("1"));
        drain(&mut fast_mail);
        let delivery = hub.broadcast(&"r", Message::text("2"));
        assert_eq!(delivery, Delivery { queued: 1, dropped: 0, evicted: 1 });
        assert_eq!(hub.presence(&"r"), [(fast, 2)], "the evicted member left every room");
        assert_eq!(hub.join("r", slow), Err(UnknownMember(slow)));
        assert_eq!(slow_mail.try_recv(), Some(Mail::Evicted(CloseCode::TRY_AGAIN_LATER)), "queued mail is dropped");
        assert_eq!(slow_mail.try_recv(), None);
        assert_eq!(block_on(slow_mail.recv()), None, "nothing follows an eviction");
        for i in 3..20 {
            assert_eq!(hub.broadcast(&"r", Message::text(i.to_string())).queued, 1);
            drain(&mut fast_mail);
        }
        assert_eq!(hub.stats().evicted, 1);
        assert_eq!(HubConfig::default().policy, SlowPolicy::Disconnect(CloseCode::TRY_AGAIN_LATER));
    }

    #[test]
    fn recv_waits_for_mail_and_ends_with_the_hub() {
        let hub = hub(4, SlowPolicy::DropNewest);
        let (id, mut mailbox) = hub.register(1);
        assert_eq!(poll_once(mailbox.recv()), None, "nothing queued yet");
        let sender = {
            let hub = hub.clone();
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(20));
                hub.send_to(id, Message::text("late")).unwrap();
            })
        };
        assert_eq!(text(block_on(mailbox.recv())), "late");
        sender.join().unwrap();

        let dropper = thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            drop(hub);
        });
        assert_eq!(block_on(mailbox.recv()), None, "a waiting recv learns the hub is gone");
        dropper.join().unwrap();
    }

    #[test]
    fn broadcast_waiting_waits_for_room_and_skips_members_that_leave() {
        let hub = hub(1, SlowPolicy::DropNewest);
        let (a, mut mail_a) = hub.register(1);
        let (b, mail_b) = hub.register(2);
        hub.join("r", a).unwrap();
        hub.join("r", b).unwrap();
        hub.broadcast(&"r", Message::text("fill"));
        // Both queues are full: the waiting broadcast cannot finish yet.
        assert_eq!(poll_once(hub.broadcast_waiting(&"r", Message::text("must arrive"))), None);
        let consumer = thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            let first = mail_a.try_recv();
            thread::sleep(Duration::from_millis(20));
            drop(mail_b); // b never reads: it leaves instead
            (first, mail_a)
        });
        let delivery = block_on(hub.broadcast_waiting(&"r", Message::text("must arrive")));
        let (first, mut mail_a) = consumer.join().unwrap();
        assert_eq!(text(first), "fill");
        assert_eq!(delivery.queued, 1, "queued for a, skipped for b, which left");
        assert_eq!(text(mail_a.try_recv()), "must arrive");
    }

    #[test]
    fn concurrent_broadcasts_joins_and_drops_stay_consistent() {
        let hub: Hub<u8, u32> = Hub::new(HubConfig::default().with_capacity(64).with_policy(SlowPolicy::DropOldest));
        let stop = Arc::new(AtomicBool::new(false));
        let broadcasters: Vec<_> = (0..2)
            .map(|_| {
                let (hub, stop) = (hub.clone(), Arc::clone(&stop));
                thread::spawn(move || {
                    let mut queued = 0;
                    while !stop.load(Ordering::Relaxed) {
                        queued += hub.broadcast(&0, Message::text("m")).queued;
                    }
                    queued
                })
            })
            .collect();
        for round in 0..2000u32 {
            let (id, mut mailbox) = hub.register(round);
            hub.join(0, id).unwrap();
            hub.join(1, id).unwrap();
            while mailbox.try_recv().is_some() {}
            drop(mailbox);
        }
        stop.store(true, Ordering::Relaxed);
        let queued: usize = broadcasters.into_iter().map(|t| t.join().unwrap()).sum();
        let stats = hub.stats();
        assert_eq!((stats.members, stats.rooms), (0, 0));
        assert_eq!(stats.queued, queued as u64);
    }
}
