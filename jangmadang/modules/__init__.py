"""Mechanisms, one module per file, and the fixed order in which they run each month.

Order matters and is documented in docs/ODD.md (process overview and scheduling):

1. population        builds persons, households, inminban and roles (no monthly change yet)
2. official_economy  state wages; rations delivered to non-farm households
3. food              harvest, food price, purchases from stock and market, food insecurity
4. markets           who trades, goods spending, imports and exports, traders' and donju income
5. defection         defectors move on (caught, arrived, released); new departures
6. remittances       settled defectors send money home through brokers in China
7. security          agents watch defector families: remittance cuts, bribes or reports, errands
"""

from jangmadang.modules.defection import Defection
from jangmadang.modules.food import Food
from jangmadang.modules.markets import Markets
from jangmadang.modules.official_economy import OfficialEconomy
from jangmadang.modules.population import Population
from jangmadang.modules.remittances import Remittances
from jangmadang.modules.security import Security

ORDER = (Population, OfficialEconomy, Food, Markets, Defection, Remittances, Security)
