//! The readiness port's shell: each connection sends one request head (bounded in size and
//! time), gets one plain-text answer (`readiness`), and is closed. At most
//! [`MAX_HEALTH_CONNECTIONS`] are served at once; others are closed unanswered.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::gateway::readiness::{self, PartState, Readiness};

/// Checks answered at once; a balancer asks one at a time.
pub(super) const MAX_HEALTH_CONNECTIONS: usize = 16;
/// How long a check may take to send its request.
const REQUEST_WAIT: Duration = Duration::from_secs(2);

impl Gateway {
    /// Every part the gateway needs to let someone in, as it is now.
    pub async fn readiness(&self) -> Readiness {
        let store = match self.config.audit.store {
            AuditStore::File(_) => "file",
            AuditStore::Postgres(_) => "database",
        };
        let audit = self.audit.health(REQUEST_WAIT).await.map(|()| {
            format!(
                "{store}, {} records written since start",
                self.audit.stats().records
            )
        });
        let directory = match &self.directory {
            None => Ok(format!(
                "configuration file, {} users",
                self.config.users.len()
            )),
            Some(directory) => match tokio::time::timeout(REQUEST_WAIT, directory.health()).await {
                Ok(Ok(())) => Ok(format!("{} answers", self.config_directory_url())),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!(
                    "the directory {} gave no answer within {} s",
                    self.config_directory_url(),
                    REQUEST_WAIT.as_secs()
                )),
            },
        };
        Readiness {
            parts: vec![
                PartState {
                    part: "audit",
                    state: audit,
                },
                PartState {
                    part: "directory",
                    state: directory,
                },
            ],
        }
    }

    fn config_directory_url(&self) -> &str {
        self.config
            .directory
            .as_ref()
            .map_or("", |d| d.url.as_str())
    }

    /// Answers checks on `listener` until `shutdown`.
    pub async fn serve_health(self: Arc<Self>, listener: TcpListener, shutdown: CancellationToken) {
        let room = Arc::new(Semaphore::new(MAX_HEALTH_CONNECTIONS));
        loop {
            let (tcp, peer) = tokio::select! {
                _ = shutdown.cancelled() => return,
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!("health port: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let Ok(permit) = Arc::clone(&room).try_acquire_owned() else {
                tracing::debug!(%peer, "health port: too many checks at once; closed");
                continue;
            };
            let gateway = Arc::clone(&self);
            tokio::spawn(async move {
                gateway.answer_check(tcp).await;
                drop(permit);
            });
        }
    }

    async fn answer_check(&self, mut tcp: TcpStream) {
        let mut head = Vec::with_capacity(256);
        let read = tokio::time::timeout(REQUEST_WAIT, async {
            let mut buf = [0u8; 512];
            while head.len() < readiness::MAX_REQUEST && !readiness::head_complete(&head) {
                match tcp.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
        })
        .await;
        if read.is_err() && head.is_empty() {
            return;
        }
        let asked = readiness::asked(&head);
        let now = match asked {
            readiness::Asked::Ready => self.readiness().await,
            _ => Readiness::default(),
        };
        let answer = readiness::response(asked, || now);
        let _ = tokio::time::timeout(REQUEST_WAIT, async {
            let _ = tcp.write_all(&answer).await;
            let _ = tcp.shutdown().await;
        })
        .await;
    }
}
