# The governor node (src/Scarcity.Actors.Host) and the `scarcity` CLI in one image.
#   docker build -t scarcity .
#   docker run --rm -p 4053:4053 -p 9464:9464 -e Scarcity__Cluster__Hostname=HOST scarcity   # one node, SQLite in /var/lib/scarcity
#   docker run --rm scarcity scarcity nodes --contact akka.tcp://scarcity@HOST:4053   # the CLI
# Not built by this repository's CI (its machines cannot pull base images); see docs/operations.md, "Docker".

# --- build: the .NET 10 SDK publishes both programs (framework-dependent, Release) ---
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# The Host references the simulated engine of samples/ (its --demo); tests/ and tools/ are not needed.
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY src/ src/
COPY samples/ samples/
RUN dotnet restore src/Scarcity.Actors.Host/Scarcity.Actors.Host.csproj \
 && dotnet restore src/Scarcity.Actors.Cli/Scarcity.Actors.Cli.csproj
RUN dotnet publish src/Scarcity.Actors.Host/Scarcity.Actors.Host.csproj -c Release --no-restore -o /out/host \
 && dotnet publish src/Scarcity.Actors.Cli/Scarcity.Actors.Cli.csproj -c Release --no-restore -o /out/cli

# --- final: the ASP.NET Core runtime (the Host serves /metrics, /healthz and /readyz), no SDK, a non-root user ---
FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS final
ARG UID=10001
RUN groupadd --system --gid ${UID} scarcity \
 && useradd --system --uid ${UID} --gid scarcity --home-dir /var/lib/scarcity --create-home --shell /usr/sbin/nologin scarcity
WORKDIR /opt/scarcity
COPY --from=build /out/host/ host/
COPY --from=build /out/cli/ cli/
RUN printf '#!/bin/sh\nexec dotnet /opt/scarcity/cli/scarcity.dll "$@"\n' > /usr/local/bin/scarcity \
 && chmod 0755 /usr/local/bin/scarcity
ENV DOTNET_CLI_TELEMETRY_OPTOUT=1 \
    DOTNET_gcServer=0 \
    Scarcity__Persistence__ConnectionString="Data Source=/var/lib/scarcity/scarcity.db"
# 4053: Akka remoting (cluster members, CLI and clients); 9464: Prometheus /metrics and the /healthz, /readyz probes.
EXPOSE 4053 9464
USER scarcity:scarcity
WORKDIR /var/lib/scarcity
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9464 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q ' 200 ' <&3"]
ENTRYPOINT ["dotnet", "/opt/scarcity/host/Scarcity.Actors.Host.dll"]
