package ai.lsntp.tools;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.avro.ModelRole;
import ai.lsntp.avro.Verification;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The league table: one row per grid, lead and model, the published one starred, best MAE first; old records read as the published model. */
class VerificationTableTest {
  static Verification v(int hour, String name, String slot, ModelRole role, double mae) {
    Instant t0 = Instant.parse("2019-03-20T00:00:00Z");
    Verification.Builder b = Verification.newBuilder().setGridId("g").setModelName(name).setModelVersion("1")
        .setIssueTime(t0.plusSeconds(3600L * hour)).setLead(1).setValidTime(t0.plusSeconds(3600L * (hour + 1)))
        .setMae(mae).setRmse(mae).setPersistenceMae(1.0).setCells(10).setProducedAt(t0);
    if (role != null) {
      b.setRole(role).setSlot(slot);
    }
    return b.build();
  }

  @Test
  void everyModelOfAGridGetsItsRowsAndThePublishedOneIsStarred() {
    VerificationTable t = new VerificationTable(Duration.ofHours(24));
    for (int h = 0; h < 10; h++) {
      t.add(v(h, "LS-NTP", "default", ModelRole.CHAMPION, 0.5));
      t.add(v(h, "ConvLSTM", "convlstm", ModelRole.CHALLENGER, 0.4));
    }
    t.add(v(10, "LS-NTP", "default", ModelRole.CHAMPION, 0.5)); // the challenger's last score not in yet
    List<VerificationTable.Row> rows = t.rows();
    assertThat(rows).extracting(VerificationTable.Row::label).containsExactly("ConvLSTM 1 [convlstm]", "LS-NTP 1");
    assertThat(rows).extracting(VerificationTable.Row::champion).containsExactly(false, true);
    assertThat(rows).extracting(VerificationTable.Row::scores).containsExactly(10, 11);
    assertThat(rows.get(0).skill()).isCloseTo(0.6, org.assertj.core.api.Assertions.within(1e-9));
    List<String> lines = t.render();
    assertThat(lines.get(1)).contains("model (* published)");
    assertThat(lines.get(2)).startsWith("VERIFY   g ").contains("   ConvLSTM 1 [convlstm]").contains("0.400").endsWith(" 10");
    assertThat(lines.get(3)).contains(" * LS-NTP 1 ").contains("0.500").endsWith(" 11");
  }

  @Test
  void withoutChallengersTheTableKeepsItsColumnsAndOldRecordsReadAsPublished() {
    VerificationTable t = new VerificationTable(Duration.ofHours(24));
    t.add(v(0, "LS-NTP", null, null, 0.5)); // a record written before challengers: role CHAMPION, slot null
    assertThat(t.rows()).singleElement().satisfies(r -> {
      assertThat(r.champion()).isTrue();
      assertThat(r.slot()).isEqualTo("default");
    });
    assertThat(t.render().get(1)).doesNotContain("model");
  }
}
