// Real-client probe: Java azure-identity gets tokens the way an app would, from the environment it
// was given.
//
//   java -Dprobe.result=<file> -cp <classes>:<lib>/* Probe <default|managed|workload> <scope> [<scope>…]
//
// The result goes to the file named by the system property probe.result (the JVM cannot write to
// an inherited pipe, so not fd 3 as the other probes do) as one JSON object, never to stdout or
// stderr (those are logs, audited for secrets): {"results":[{"scope","token","expiresOnTimestamp","version"}]}
// (milliseconds, like the JavaScript clients) or {"error":{"name","message"}}.
import com.azure.core.credential.AccessToken;
import com.azure.core.credential.TokenCredential;
import com.azure.core.credential.TokenRequestContext;
import com.azure.identity.DefaultAzureCredentialBuilder;
import com.azure.identity.ManagedIdentityCredentialBuilder;
import com.azure.identity.WorkloadIdentityCredentialBuilder;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

public final class Probe {
  private static void report(String json) {
    try (FileOutputStream out = new FileOutputStream(System.getProperty("probe.result"))) {
      out.write(json.getBytes(StandardCharsets.UTF_8));
    } catch (Exception e) {
      System.err.println("cannot write the result to the probe.result file: " + e.getClass().getSimpleName());
    }
  }

  private static String quote(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }

  private static String version() {
    try (InputStream in = Probe.class.getResourceAsStream("/azure-identity.properties")) {
      Properties p = new Properties();
      p.load(in);
      return p.getProperty("version", "unknown");
    } catch (Exception e) {
      return "unknown";
    }
  }

  private static TokenCredential credential(String kind) {
    String clientId = System.getenv("AZURE_CLIENT_ID");
    switch (kind) {
      case "default":
        return new DefaultAzureCredentialBuilder().build();
      case "managed":
        ManagedIdentityCredentialBuilder b = new ManagedIdentityCredentialBuilder();
        if (clientId != null && !clientId.isEmpty()) b.clientId(clientId);
        return b.build();
      case "workload":
        // instance discovery would ask login.microsoftonline.com about the emulator's host
        return new WorkloadIdentityCredentialBuilder().disableInstanceDiscovery().build();
      default:
        throw new IllegalArgumentException("unknown credential kind " + kind + ": use default, managed or workload");
    }
  }

  public static void main(String[] args) {
    int code = 0;
    try {
      TokenCredential cred = credential(args[0]);
      List<String> results = new ArrayList<>();
      String v = version();
      for (int i = 1; i < args.length; i++) {
        AccessToken t = cred.getTokenSync(new TokenRequestContext().addScopes(args[i]));
        results.add("{\"scope\":" + quote(args[i]) + ",\"token\":" + quote(t.getToken()) + ",\"expiresOnTimestamp\":" + t.getExpiresAt().toInstant().toEpochMilli() + ",\"version\":" + quote(v) + "}");
      }
      report("{\"results\":[" + String.join(",", results) + "]}");
    } catch (Throwable e) {
      String msg = String.valueOf(e.getMessage());
      for (Throwable c = e.getCause(); c != null && c != c.getCause(); c = c.getCause()) msg += " | caused by " + c.getClass().getSimpleName() + ": " + c.getMessage();
      report("{\"error\":{\"name\":" + quote(e.getClass().getSimpleName()) + ",\"message\":" + quote(msg) + "}}");
      code = 2;
    }
    System.exit(code);
  }
}
