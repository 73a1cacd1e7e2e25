package ai.lsntp.job;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.job.CommitCheckedSink.Outcome;
import java.util.OptionalLong;
import java.util.Set;
import org.apache.flink.connector.kafka.sink.KafkaCommittable;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.junit.jupiter.api.Test;

/**
 * The verdict the job logs beside KafkaCommitter's ERROR: it may say "committed" or "aborted" only
 * when the coordinator's description is about this very transaction (same producer id, epoch the
 * checkpoint's or one above). The broker behind these descriptions is exercised for real by
 * system-tests' CommitterFencingTest; here, the rule on each state the coordinator can report.
 */
class CommitCheckedSinkTest {
  private static final KafkaCommittable TXN = new KafkaCommittable(7, (short) 3, "lsntp-forecasts-0-12", null);

  private static TransactionDescription said(TransactionState state, long producerId, int epoch) {
    return new TransactionDescription(1, state, producerId, epoch, 900_000, OptionalLong.empty(), Set.of());
  }

  @Test
  void aCommitThatBumpedTheEpochOrKeptItIsCommitted() {
    assertThat(CommitCheckedSink.outcome(7, (short) 3, said(TransactionState.COMPLETE_COMMIT, 7, 4))).isEqualTo(Outcome.COMMITTED);
    assertThat(CommitCheckedSink.outcome(7, (short) 3, said(TransactionState.COMPLETE_COMMIT, 7, 3))).isEqualTo(Outcome.COMMITTED);
    String line = CommitCheckedSink.explain("forecasts", TXN, OptionalLong.of(12), new ProducerFencedException("fenced"),
        said(TransactionState.COMPLETE_COMMIT, 7, 4), null, "kafka:9092");
    assertThat(line).contains("transaction lsntp-forecasts-0-12 of the forecasts sink", "restored checkpoint 12",
        "ProducerFencedException", "was committed", "nothing was lost",
        "kafka-transactions.sh --bootstrap-server kafka:9092 describe --transactional-id lsntp-forecasts-0-12");
  }

  @Test
  void anAbortIsSaidToLoseTheRecords() {
    assertThat(CommitCheckedSink.outcome(7, (short) 3, said(TransactionState.COMPLETE_ABORT, 7, 4))).isEqualTo(Outcome.ABORTED);
    assertThat(CommitCheckedSink.explain("forecasts", TXN, OptionalLong.empty(), new ProducerFencedException("fenced"),
        said(TransactionState.COMPLETE_ABORT, 7, 4), null, "kafka:9092")).contains("was ABORTED", "they are lost",
        "not a restored task");
  }

  @Test
  void anythingElseCannotBeTold() {
    // a later transaction on the id, a re-initialised id, another producer id, an open one, an unknown id
    assertThat(CommitCheckedSink.outcome(7, (short) 3, said(TransactionState.COMPLETE_COMMIT, 7, 5))).isEqualTo(Outcome.UNKNOWN);
    assertThat(CommitCheckedSink.outcome(7, (short) 3, said(TransactionState.EMPTY, 7, 4))).isEqualTo(Outcome.UNKNOWN);
    assertThat(CommitCheckedSink.outcome(7, (short) 3, said(TransactionState.COMPLETE_COMMIT, 8, 0))).isEqualTo(Outcome.UNKNOWN);
    assertThat(CommitCheckedSink.outcome(7, (short) 3, said(TransactionState.ONGOING, 7, 3))).isEqualTo(Outcome.UNKNOWN);
    assertThat(CommitCheckedSink.outcome(7, (short) 3, said(TransactionState.COMPLETE_COMMIT, 7, 2))).isEqualTo(Outcome.UNKNOWN);
    assertThat(CommitCheckedSink.outcome(7, (short) 3, null)).isEqualTo(Outcome.UNKNOWN);
    assertThat(CommitCheckedSink.explain("alerts", TXN, OptionalLong.of(12), new ProducerFencedException("fenced"), null,
        "TransactionalIdNotFoundException", "kafka:9092")).contains("Kafka can no longer tell",
        "TransactionalIdNotFoundException", "one forecast per grid and issue time");
  }
}
