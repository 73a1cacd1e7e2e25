package ai.lsntp.serve;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.testing.KafkaBroker;
import ai.lsntp.testing.RealFrames;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.logging.Level;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The live page in a real headless Chromium (Debian's chromium and chromium-driver), on the job
 * running with real ERA5 frames: the map shows the newest forecast, a forecast made after the page
 * loaded appears without a reload, and the browser's console has no error. Leaves a screenshot in
 * target/live-page.png (docs/live-page.png is a copy of it).
 */
class LivePageBrowserTest {
  static final String UK = "era5-uk-0p25";
  static final Path CHROMIUM = Path.of("/usr/bin/chromium");
  static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
  @RegisterExtension static final KafkaBroker kafka = new KafkaBroker();

  @Test
  void thePageShowsTheNewestForecastAndTheNextOneWithoutAReload() throws Exception {
    assertThat(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER))
        .as("needs %s and %s (Debian: apt-get install chromium chromium-driver; .ci/run installs them)", CHROMIUM,
            CHROMEDRIVER).isTrue();
    List<TemperatureFrame> frames = RealFrames.uk(12);
    // a frost rule at 5 °C: the coldest cells of these March 2019 nights are below it, so the map has alert markers
    try (LiveJob world = LiveJob.start(kafka, "page", "[{name: below-5c, kind: frost, threshold: 278.15}]")) {
      world.publish(frames.subList(0, 10));
      Instant first = frames.get(9).getValidTime();
      assertThat(world.awaitIssue(UK, first, Duration.ofSeconds(60))).as("forecast issued %s", first).isTrue();

      WebDriver browser = chromium();
      try {
        WebDriverWait wait = new WebDriverWait(browser, Duration.ofSeconds(20));
        browser.get(world.live.url());
        wait.until(b -> first.toString().equals(issued(b)));
        JavascriptExecutor js = (JavascriptExecutor) browser;
        js.executeScript("window.lsntpSamePage = true;"); // gone if the page reloads

        assertThat(browser.findElements(By.cssSelector(".forecast-map img.grid-image")))
            .as("the forecast's colour map").singleElement()
            .satisfies(img -> assertThat(img.getAttribute("src")).startsWith("data:image/png;base64,"));
        assertThat(browser.findElements(By.cssSelector(".observed-map img.grid-image"))).as("the observed frame").hasSize(1);
        assertThat(browser.findElement(By.cssSelector("time.observed")).getAttribute("datetime"))
            .isEqualTo(first.toString());
        assertThat(browser.findElements(By.cssSelector(".forecast-map path.coast"))).as("coastlines").isNotEmpty();
        assertThat(browser.findElements(By.cssSelector(".leads button"))).hasSize(6);
        assertThat(browser.findElement(By.cssSelector(".legend")).getText()).contains("°C");
        wait.until(b -> !b.findElements(By.cssSelector(".verification table.skill tr")).isEmpty());
        wait.until(b -> !b.findElements(By.cssSelector(".forecast-map .alert-marker")).isEmpty());
        wait.until(b -> b.findElements(By.cssSelector("#model-events li.model-event[data-kind=ACCEPTED]")).size() >= 1);
        wait.until(b -> "live".equals(b.findElement(By.id("status")).getAttribute("data-state")));

        // a lead chosen by the user is drawn
        String lead1 = browser.findElement(By.cssSelector(".forecast-map img.grid-image")).getAttribute("src");
        browser.findElement(By.cssSelector(".leads button[data-lead='6']")).click();
        assertThat(browser.findElement(By.cssSelector(".forecast-map img.grid-image")).getAttribute("src"))
            .isNotEqualTo(lead1);
        assertThat(browser.findElement(By.cssSelector(".map-box h3")).getText()).startsWith("Forecast +6 h");

        // frames sent now make a forecast the page shows by itself
        world.publish(frames.subList(10, 12));
        Instant next = frames.get(11).getValidTime();
        // the page re-renders as records arrive: an element found just before may be gone when read
        new WebDriverWait(browser, Duration.ofSeconds(45)).ignoring(org.openqa.selenium.StaleElementReferenceException.class)
            .until(b -> next.toString().equals(issued(b)));
        assertThat(js.executeScript("return window.lsntpSamePage === true;")).as("no reload").isEqualTo(true);
        wait.until(b -> next.toString().equals(b.findElement(By.cssSelector("time.observed")).getAttribute("datetime")));

        Path shot = Path.of("target", "live-page.png");
        Files.createDirectories(shot.getParent());
        Files.write(shot, ((TakesScreenshot) browser).getScreenshotAs(OutputType.BYTES));

        List<LogEntry> log = browser.manage().logs().get(LogType.BROWSER).getAll();
        assertThat(log.stream().filter(e -> e.getLevel().intValue() >= Level.SEVERE.intValue())
            .map(LogEntry::toString).collect(Collectors.toList())).as("errors in the browser's console").isEmpty();
        // the console is really read: an error logged now is seen
        js.executeScript("console.error('lsntp console probe');");
        assertThat(browser.manage().logs().get(LogType.BROWSER).getAll())
            .anySatisfy(e -> assertThat(e.getMessage()).contains("lsntp console probe"));
      } catch (Throwable t) {
        // what the browser saw, for whoever reads the failure
        Files.write(Path.of("target", "live-page-failure.png"), ((TakesScreenshot) browser).getScreenshotAs(OutputType.BYTES));
        browser.manage().logs().get(LogType.BROWSER).getAll().forEach(e -> t.addSuppressed(new AssertionError("console: " + e)));
        throw t;
      } finally {
        browser.quit();
      }
    }
  }

  /** The issue time the page shows for the UK grid, or null before it shows one. */
  static String issued(WebDriver b) {
    List<WebElement> t = b.findElements(By.cssSelector("time.issued[data-grid='" + UK + "']"));
    return t.isEmpty() ? null : t.get(0).getAttribute("datetime");
  }

  /**
   * Headless Chromium from Debian with its own driver, named explicitly so Selenium Manager never
   * looks for (or downloads) one; without the background-networking flags Chromium reaches for
   * Google's services, which this machine's closed network refuses.
   */
  static WebDriver chromium() throws Exception {
    ChromeOptions o = new ChromeOptions();
    o.setBinary(CHROMIUM.toFile());
    Path profile = Files.createTempDirectory("lsntp-chromium-");
    o.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--user-data-dir=" + profile, "--window-size=1400,1500");
    LoggingPreferences logs = new LoggingPreferences();
    logs.enable(LogType.BROWSER, Level.ALL);
    o.setCapability("goog:loggingPrefs", logs);
    ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile())
        .usingAnyFreePort().withLogFile(new File("target/chromedriver.log")).build();
    return new ChromeDriver(service, o);
  }
}
