"""Mechanisms, one module per file, and the fixed order in which they run each month.

Order matters and is documented in docs/ODD.md (process overview and scheduling):

1. population        builds persons, households, inminban and roles; roles change through it
2. demography        yearly rebuild (the dead leave, couples move, newborns get rows, ageing and
                     the life course); each month's deaths and births
3. enforcement       releases those whose labour-camp term ended; later modules call its shared
                     detect() and punish() during their own steps
4. currency          the 2009 redenomination: won savings above the exchange limit lost, markets
                     closed for a few months (before wages, so the month's wages are new money)
5. official_economy  state wages; rations delivered to non-farm households
6. food              harvest, food price, purchases from stock and market, food insecurity
7. markets           the market's scale, who trades, goods spending, imports and exports,
                     traders' and donju income
8. enterprises       state factories: vacant posts filled, idle space
9. patronage         all-ssam ties: leases, per diems, favours, secretaries courting donju,
                     officials' protection, inspections of donju
10. gifts            the leader's gifts at a Party Congress: used, stored, given or sold
11. defection        defectors move on (caught and punished, or arrived); new departures
12. remittances      settled defectors send money home through brokers in China
13. security         agents watch defector families: remittance cuts, bribes or reports, errands
14. bribes           officials demand bribes of traders, excused workers, job seekers and families;
                     who cannot pay is punished; counts who paid in the last 12 months
15. loyalty          private loyalty and compliance move (hunger, markets, lectures, rallies,
                     neighbours, punishments seen); yearly marriages; read by the others next month
"""

from jangmadang.modules.bribes import Bribes
from jangmadang.modules.currency import Currency
from jangmadang.modules.defection import Defection
from jangmadang.modules.demography import Demography
from jangmadang.modules.enforcement import Enforcement
from jangmadang.modules.enterprises import Enterprises
from jangmadang.modules.food import Food
from jangmadang.modules.gifts import Gifts
from jangmadang.modules.loyalty import Loyalty
from jangmadang.modules.markets import Markets
from jangmadang.modules.official_economy import OfficialEconomy
from jangmadang.modules.patronage import Patronage
from jangmadang.modules.population import Population
from jangmadang.modules.remittances import Remittances
from jangmadang.modules.security import Security

ORDER = (
    Population,
    Demography,
    Enforcement,
    Currency,
    OfficialEconomy,
    Food,
    Markets,
    Enterprises,
    Patronage,
    Gifts,
    Defection,
    Remittances,
    Security,
    Bribes,
    Loyalty,
)
