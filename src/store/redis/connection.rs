//! The Redis backend's connection: to one Redis, or to a Redis Cluster, and the nodes of a
//! cluster.
//!
//! Both kinds answer every command of the backend; a cluster connection routes each command
//! to the primary of its key's slot, follows the cluster's failovers and reconnects by itself.
//! What differs is the work over many keys: a pipeline of one Redis is, in a cluster, one
//! command per key ([`Connection::query_each`]), and a walk of the keys (`SCAN`) visits every
//! primary in turn ([`Connection::primaries`], [`Connection::on_node`]).

use ::redis::{
    Cmd, ConnectionAddr, ConnectionInfo, FromRedisValue, Pipeline, RedisError, RedisFuture,
    RedisResult, Value,
    aio::{ConnectionLike, ConnectionManager},
    cluster_async::ClusterConnection,
    cluster_routing::{
        MultipleNodeRoutingInfo, ResponsePolicy, RoutingInfo, SingleNodeRoutingInfo,
    },
};
use futures::{StreamExt, TryStreamExt, stream};

/// Commands of one [`Connection::query_each`] in flight at once on a cluster.
const IN_FLIGHT: usize = 64;

/// A connection to one Redis or to a Redis Cluster; clones share it.
#[derive(Clone)]
pub(super) enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(connection) => connection.req_packed_command(cmd),
            Self::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(connection) => connection.req_packed_commands(pipeline, offset, count),
            Self::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(connection) => connection.get_db(),
            Self::Cluster(connection) => connection.get_db(),
        }
    }
}

/// A node of a cluster, by the address the cluster gives it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Node {
    pub(super) host: String,
    pub(super) port: u16,
}

impl Node {
    /// The connection info of this node: `seed`'s (credentials, database, TLS) at this
    /// node's address.
    pub(super) fn connection_info(&self, seed: &ConnectionInfo) -> ConnectionInfo {
        let addr = match seed.addr() {
            ConnectionAddr::TcpTls {
                insecure,
                tls_params,
                ..
            } => ConnectionAddr::TcpTls {
                host: self.host.clone(),
                port: self.port,
                insecure: *insecure,
                tls_params: tls_params.clone(),
            },
            _ => ConnectionAddr::Tcp(self.host.clone(), self.port),
        };
        seed.clone().set_addr(addr)
    }
}

/// Which primary serves which slots: `(first slot, last slot, primary)`, sorted.
pub(super) type SlotMap = Vec<(u16, u16, Node)>;

impl Connection {
    /// The commands' replies, in order: one pipeline on one Redis; on a cluster, where the
    /// keys live in many slots, one command each, a bounded number in flight.
    pub(super) async fn query_each<T: FromRedisValue>(
        &self,
        commands: Vec<Cmd>,
    ) -> RedisResult<Vec<T>> {
        match self {
            Self::Single(connection) => {
                if commands.is_empty() {
                    return Ok(Vec::new());
                }
                let mut pipe = ::redis::pipe();
                for command in commands {
                    pipe.add_command(command);
                }
                pipe.query_async(&mut connection.clone()).await
            }
            Self::Cluster(connection) => {
                stream::iter(commands)
                    .map(|command| {
                        let mut connection = connection.clone();
                        async move { command.query_async::<T>(&mut connection).await }
                    })
                    .buffered(IN_FLIGHT)
                    .try_collect()
                    .await
            }
        }
    }

    /// The slot map of a cluster (`CLUSTER SLOTS`); `None` on one Redis.
    pub(super) async fn slot_map(&self) -> RedisResult<Option<SlotMap>> {
        let Self::Cluster(connection) = self else {
            return Ok(None);
        };
        let reply: Vec<Value> = ::redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query_async(&mut connection.clone())
            .await?;
        let mut slots = reply
            .into_iter()
            .map(slot_range)
            .collect::<Option<SlotMap>>()
            .ok_or_else(|| {
                RedisError::from((
                    ::redis::ErrorKind::Parse,
                    "a CLUSTER SLOTS reply of another shape",
                ))
            })?;
        slots.sort();
        Ok(Some(slots))
    }

    /// The primaries of a cluster, each once, in order; `None` on one Redis.
    pub(super) async fn primaries(&self) -> RedisResult<Option<Vec<Node>>> {
        Ok(self.slot_map().await?.map(|slots| primaries_of(&slots)))
    }

    /// Whether `node` of a cluster is moving slots to or from another node (a resharding
    /// under way): its own line of `CLUSTER NODES` names a migrating (`->-`) or importing
    /// (`-<-`) slot.
    pub(super) async fn is_resharding(&self, node: &Node) -> RedisResult<bool> {
        let mut command = ::redis::cmd("CLUSTER");
        command.arg("NODES");
        let nodes: String = self.on_node(Some(node), command).await?;
        Ok(nodes
            .lines()
            .filter(|line| line.contains("myself"))
            .any(|line| line.contains("->-") || line.contains("-<-")))
    }

    /// Runs `command` on every primary of a cluster (or on the one Redis); fails unless each
    /// runs it.
    pub(super) async fn on_every_primary(&self, command: Cmd) -> RedisResult<()> {
        match self {
            Self::Single(connection) => command.exec_async(&mut connection.clone()).await,
            Self::Cluster(connection) => {
                let routing = RoutingInfo::MultiNode((
                    MultipleNodeRoutingInfo::AllMasters,
                    Some(ResponsePolicy::AllSucceeded),
                ));
                connection
                    .clone()
                    .route_command(command, routing)
                    .await
                    .map(drop)
            }
        }
    }

    /// Runs `command` on `node` of a cluster, or on the one Redis when `node` is `None`.
    pub(super) async fn on_node<T: FromRedisValue>(
        &self,
        node: Option<&Node>,
        command: Cmd,
    ) -> RedisResult<T> {
        match (self, node) {
            (Self::Cluster(connection), Some(node)) => {
                let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                    host: node.host.clone(),
                    port: node.port,
                });
                let value = connection.clone().route_command(command, routing).await?;
                Ok(T::from_redis_value(value)?)
            }
            (connection, _) => command.query_async(&mut connection.clone()).await,
        }
    }
}

/// The primaries of a slot map, each once, in order.
pub(super) fn primaries_of(slots: &SlotMap) -> Vec<Node> {
    let mut nodes: Vec<Node> = slots.iter().map(|(.., node)| node.clone()).collect();
    nodes.sort();
    nodes.dedup();
    nodes
}

/// One range of a `CLUSTER SLOTS` reply: `[first, last, [host, port, ...], replicas...]`.
fn slot_range(range: Value) -> Option<(u16, u16, Node)> {
    let Value::Array(mut fields) = range else {
        return None;
    };
    if fields.len() < 3 {
        return None;
    }
    let primary = fields.swap_remove(2);
    let first = u16::from_redis_value_ref(fields.first()?).ok()?;
    let last = u16::from_redis_value_ref(fields.get(1)?).ok()?;
    let Value::Array(primary) = primary else {
        return None;
    };
    let host = String::from_redis_value_ref(primary.first()?).ok()?;
    let port = u16::from_redis_value_ref(primary.get(1)?).ok()?;
    Some((first, last, Node { host, port }))
}

#[cfg(test)]
mod tests {
    use ::redis::IntoConnectionInfo;

    use super::*;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    #[test]
    fn a_slot_range_names_its_primary_not_its_replicas() {
        let range = Value::Array(vec![
            Value::Int(0),
            Value::Int(5460),
            Value::Array(vec![bulk("10.0.0.1"), Value::Int(7000), bulk("id-1")]),
            Value::Array(vec![bulk("10.0.0.4"), Value::Int(7003), bulk("id-4")]),
        ]);
        let (first, last, node) = slot_range(range).unwrap();
        assert_eq!((first, last), (0, 5460));
        assert_eq!(
            node,
            Node {
                host: "10.0.0.1".into(),
                port: 7000
            }
        );
        assert!(slot_range(Value::Array(vec![Value::Int(0), Value::Int(1)])).is_none());
    }

    #[test]
    fn each_primary_is_listed_once() {
        let node = |port| Node {
            host: "h".into(),
            port,
        };
        let slots = vec![(0, 10, node(2)), (11, 20, node(1)), (21, 30, node(2))];
        assert_eq!(primaries_of(&slots), vec![node(1), node(2)]);
    }

    #[test]
    fn a_node_keeps_the_seeds_credentials() {
        let seed = "redis://user:pw@seed:7000/".into_connection_info().unwrap();
        let info = Node {
            host: "other".into(),
            port: 7001,
        }
        .connection_info(&seed);
        assert_eq!(info.addr().to_string(), "other:7001");
        assert_eq!(info.redis_settings().password(), Some("pw"));
    }
}
